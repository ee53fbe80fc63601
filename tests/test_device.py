"""Device helpers (skdistill._device): which device a parameter names, where a net computes."""

import pytest
import torch
from skorch import NeuralNet

from skdistill import MLP
from skdistill import _device, _student
from skdistill._device import net_device, resident_device, resolve_device


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == resolve_device(None) == expected
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("device, match", [("gpu", "not a valid torch device"), ("meta", "not supported")])
def test_unknown_or_unsupported_device_is_a_value_error(device, match):
    with pytest.raises(ValueError, match=match):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_value_error_that_names_the_alternatives():
    with pytest.raises(ValueError, match="CUDA is not available.*device='auto'"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_beyond_the_machine_is_a_value_error():
    with pytest.raises(ValueError, match="CUDA device"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_net_device_is_the_nets_device_else_where_its_parameters_are():
    net = NeuralNet(MLP, module__n_inputs=3, module__n_outputs=2, criterion=torch.nn.MSELoss, device="cpu")
    assert net_device(net) == torch.device("cpu")
    placed = NeuralNet(MLP, module__n_inputs=3, module__n_outputs=2, criterion=torch.nn.MSELoss, device=None)
    assert net_device(placed) == torch.device("cpu")  # not initialized: no parameters yet
    placed.initialize()
    assert net_device(placed) == next(placed.module_.parameters()).device


def test_resident_device_keeps_cpu_data_on_the_cpu():
    assert resident_device(10**12, "cpu") == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resident_device_falls_back_to_the_cpu_for_data_that_does_not_fit():
    free, _ = torch.cuda.mem_get_info(torch.device("cuda"))
    assert resident_device(1024, "cuda") == torch.device("cuda")
    assert resident_device(free, "cuda") == torch.device("cpu")


def test_old_import_path_gives_the_same_functions():
    for name in ("resolve_device", "net_device", "resident_device"):
        assert getattr(_student, name) is getattr(_device, name)
