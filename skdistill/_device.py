"""Torch devices: which one a parameter names, where a net computes, where data lives.

Used by the estimators (training and prediction), :func:`~skdistill.load_student`,
the agreement metric, on-disk streaming and the Dask labelling tasks.
"""

import torch


def resolve_device(device):
    """The torch device named by a ``device`` parameter, checked available.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None) picks CUDA when present, else the CPU.

    Returns
    -------
    device : str
        As ``str(torch.device(...))``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...

    Raises
    ------
    ValueError
        For a name torch does not know, or a device this machine lacks.
    """
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='cpu' or device='auto'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} was requested but MPS is not available")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return str(dev)


def net_device(net):
    """The torch device a skorch net computes on.

    ``net.device``, or for nets that leave placement to Hugging Face
    accelerate (``device=None``, skorch's AccelerateMixin) the accelerator's
    device, else where the module's parameters are.

    Parameters
    ----------
    net : skorch.NeuralNet

    Returns
    -------
    device : torch.device
    """
    if net.device is not None:
        return torch.device(net.device)
    accelerator = getattr(net, "accelerator", None)
    if accelerator is not None and getattr(accelerator, "device", None) is not None:
        return torch.device(accelerator.device)
    module = getattr(net, "module_", None)
    param = next(module.parameters(), None) if isinstance(module, torch.nn.Module) else None
    return param.device if param is not None else torch.device("cpu")


def resident_device(nbytes, device):
    """Where the transfer set lives during fit: on ``device`` if it fits there.

    Parameters
    ----------
    nbytes : int
        Size of the tensors to place.
    device : str or torch.device
        The training device.

    Returns
    -------
    device : torch.device
        ``device``, or the CPU for a CUDA device with less than twice
        ``nbytes`` free.
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return dev
    free, _ = torch.cuda.mem_get_info(dev)
    return dev if nbytes < 0.5 * free else torch.device("cpu")
