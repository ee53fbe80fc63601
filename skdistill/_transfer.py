"""On-disk transfer sets, streamed through the student's training in chunks.

A transfer set larger than memory is written once, by
:func:`~skdistill.label_transfer_set`, as a directory of Parquet files
holding the rows as the teacher saw them and the teacher's raw outputs; the
format (its reader :class:`~skdistill.TransferSet`, its writer, its version)
is in :mod:`skdistill._transfer_format`. Passing a :class:`TransferSet` to
``fit`` as ``X_unlabeled`` trains the student on the in-memory rows (``X``,
synthetic rows) *and* the on-disk rows without loading the latter; this
module does that:

* the student's preprocessor is fitted on ``X`` as usual;
* during each epoch the Parquet row groups are read one at a time in a random
  order, checked and encoded with the fitted preprocessor, packed into
  targets, mixed with a proportional share of the in-memory rows, shuffled,
  and cut into batches (a skorch ``iterator_train``; carry-over rows join
  the next chunk, so batches keep their size);
* with early stopping, the validation rows are held out of the in-memory
  rows only (reading on-disk rows at random would defeat streaming).

Memory during ``fit`` is therefore the in-memory rows plus one row group
(``row_group_size`` rows, 65536 by default) and its encoding; it does not
grow with the number of on-disk rows. The teacher is not called on them: its
outputs were computed when the set was written, so the set must have been
labelled by the same teacher as the one given to the distiller (checked by
``TransferSet._check_compatible``: the task, the classes and the number of
outputs; not the teacher itself). Shuffling is two-level (row-group order,
then rows within a row group and its share of in-memory rows); write data
that arrives sorted in a shuffled order.

Fitted students keep :class:`StreamBatches` and ``_InMemorySplit`` in their
skorch parameters: pickles name them by this module's path.
"""
import math

import joblib
import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ._device import net_device
from ._preprocessing import check_encoded
from ._student import TensorBatches
# the format's home is _transfer_format; these names stay importable from here
from ._transfer_format import (  # noqa: F401
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_FILE,
    OUTPUT_PREFIX,
    TransferSet,
)


class StreamingTransferData(Dataset):
    """In-memory training rows plus an on-disk :class:`TransferSet`.

    Not indexable: it is read in order by :class:`StreamBatches`, skorch's
    ``iterator_train`` for it. ``encode`` maps a raw chunk to the student's
    float32 inputs, ``pack`` teacher outputs to packed targets.
    """

    def __init__(self, X, y, transfer_set, encode, pack):
        self.X = X
        self.y = y
        self.transfer_set = transfer_set
        self.encode = encode
        self.pack = pack

    def __len__(self):
        return self.X.shape[0] + self.transfer_set.n_rows

    def __getitem__(self, index):
        raise TypeError(
            "a streamed transfer set is read in chunks, not by index (it is iterated by "
            "skdistill's StreamBatches)"
        )

    def in_memory(self):
        return TensorDataset(self.X, self.y)

    def with_memory(self, subset):
        """The same stream with the in-memory rows of ``subset`` only."""
        index = torch.as_tensor(np.asarray(subset.indices), dtype=torch.long)
        return StreamingTransferData(
            self.X[index], self.y[index], self.transfer_set, self.encode, self.pack
        )


class StreamBatches:
    """skorch ``iterator_train`` for :class:`StreamingTransferData`.

    Each epoch reads the on-disk row groups in a random order, encodes each,
    mixes it with a proportional share of the in-memory rows, shuffles, and
    yields ``(X, y)`` float32 tensor batches on ``device``. Random draws come
    from torch's global generator (seeded by ``fit``), so training is
    reproducible. A TensorDataset (the validation part) is delegated to
    :class:`~skdistill.nn.TensorBatches`.
    """

    def __init__(self, dataset, batch_size=256, shuffle=False, device="cpu", **kwargs):
        self._delegate = None
        if isinstance(dataset, (TensorDataset, Subset)):
            self._delegate = TensorBatches(dataset, batch_size=batch_size, shuffle=shuffle)
        elif not isinstance(dataset, StreamingTransferData):
            raise TypeError(
                f"StreamBatches needs a StreamingTransferData, got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.device = torch.device(device)

    def __len__(self):
        if self._delegate is not None:
            return len(self._delegate)
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        if self._delegate is not None:
            yield from self._delegate
            return
        data = self.dataset
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        rng = np.random.default_rng(seed)
        n_mem = data.X.shape[0]
        n_disk = data.transfer_set.n_rows
        mem_order = torch.from_numpy(rng.permutation(n_mem)) if self.shuffle else torch.arange(n_mem)
        done_disk = 0
        done_mem = 0
        carry = None
        for X_chunk, outputs in data.transfer_set.iter_chunks(shuffle=self.shuffle, random_state=rng):
            Z = torch.from_numpy(data.encode(X_chunk))
            T = torch.from_numpy(data.pack(outputs))
            done_disk += Z.shape[0]
            upto = n_mem if done_disk >= n_disk else (done_disk * n_mem) // n_disk
            idx = mem_order[done_mem:upto]
            done_mem = upto
            parts = [(Z, T), (data.X[idx], data.y[idx])]
            if carry is not None:
                parts.insert(0, carry)
            Zc = torch.cat([p[0] for p in parts])
            Tc = torch.cat([p[1] for p in parts])
            if self.shuffle:
                perm = torch.from_numpy(rng.permutation(Zc.shape[0]))
                Zc, Tc = Zc[perm], Tc[perm]
            full = (Zc.shape[0] // self.batch_size) * self.batch_size
            for start in range(0, full, self.batch_size):
                yield self._batch(Zc[start : start + self.batch_size], Tc[start : start + self.batch_size])
            carry = (Zc[full:], Tc[full:]) if full < Zc.shape[0] else None
        rest = mem_order[done_mem:]
        if carry is not None or len(rest):
            Zc = torch.cat(([carry[0]] if carry is not None else []) + [data.X[rest]])
            Tc = torch.cat(([carry[1]] if carry is not None else []) + [data.y[rest]])
            for start in range(0, Zc.shape[0], self.batch_size):
                yield self._batch(Zc[start : start + self.batch_size], Tc[start : start + self.batch_size])

    def _batch(self, Z, T):
        return Z.to(self.device, non_blocking=True), T.to(self.device, non_blocking=True)


class _InMemorySplit:
    """``train_split`` for a stream: split the in-memory rows only."""

    def __init__(self, split):
        self.split = split

    def __call__(self, dataset, y=None, **kwargs):
        train, valid = self.split(dataset.in_memory(), **kwargs)
        return dataset.with_memory(train), valid


def chunk_encoder(check_X, preprocessor):
    """The function that turns a raw on-disk chunk into the student's inputs.

    Parameters
    ----------
    check_X : callable
        ``check_X(X_chunk)`` returns the chunk checked as the estimator
        checks its rows in ``predict`` (feature names, finiteness).
    preprocessor : fitted transformer
        The student's preprocessor.

    Returns
    -------
    encode : callable
        ``encode(X_chunk)`` gives a float32 ndarray of shape
        (n_chunk, n_encoded).
    """

    def encode(X_chunk):
        # in this thread: this runs under the training lock, where a nested joblib
        # dispatch to Dask (a ColumnTransformer's) must not secede (see _base.TRAINING_LOCK)
        with joblib.parallel_config(backend="sequential"):
            return check_encoded(preprocessor.transform(check_X(X_chunk)))

    return encode


def streaming_fit_data(transfer_set, net, Z, targets, *, check_X, preprocessor, pack):
    """Prepare ``net`` to train on ``Z``/``targets`` plus ``transfer_set``, streamed.

    Sets skorch's ``iterator_train`` to :class:`StreamBatches` (and wraps a
    ``train_split`` so that validation rows come from the in-memory rows) and
    returns the dataset to pass to ``net.fit``.

    Parameters
    ----------
    transfer_set : TransferSet
        Checked compatible with the estimator being fitted.
    net : skorch.NeuralNet
        The student, not yet fitted; its parameters are set here.
    Z : ndarray of shape (n_rows, n_encoded)
        The encoded in-memory rows.
    targets : ndarray of shape (n_rows, n_targets)
        Their packed targets.
    check_X : callable
        Checks a raw on-disk chunk as the estimator's ``predict`` would
        (see :func:`chunk_encoder`).
    preprocessor : fitted transformer
        The student's preprocessor.
    pack : callable
        ``pack(outputs)`` gives the packed targets of rows that carry only
        the teacher's outputs (no label, weight 1).

    Returns
    -------
    dataset : StreamingTransferData
    """
    params = {"iterator_train": StreamBatches, "iterator_train__device": net_device(net)}
    if net.train_split is not None:
        params["train_split"] = _InMemorySplit(net.train_split)
    net.set_params(**params)
    return StreamingTransferData(
        torch.from_numpy(np.ascontiguousarray(Z)),
        torch.from_numpy(targets),
        transfer_set,
        chunk_encoder(check_X, preprocessor),
        pack,
    )
