"""Speed benchmark: skdistill's student vs bare torch, the teacher and onnxruntime.

Run:  python benchmarks/speed.py  [--rows 100000] [--out docs/benchmark_speed.md]

Measures, in one process on the same data (float features, 2 classes,
student MLP hidden (256, 256)):

1. fit throughput of the student's training loop (skorch history epoch
   durations) vs a bare torch loop with the same MLP, loss, optimizer and
   batch size over pre-built tensors; 1 and all CPU threads;
2. predict_proba throughput (input encoding included) vs a bare torch forward
   on pre-built tensors, vs the HistGradientBoosting teacher, vs onnxruntime;
3. one-row latency (median) of predict_proba vs the teacher vs onnxruntime;
4. peak memory of predict_proba on 2M vs 200k rows, each in a subprocess.

Writes a Markdown report (default docs/benchmark_speed.md) and prints it.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

import joblib
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

import skdistill  # noqa: E402
from skdistill import MLP, DistilledClassifier, DistillationLoss  # noqa: E402

HIDDEN = (256, 256)
EPOCHS = 3


def fmt(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def best_time(fn, repeats=3):
    fn()
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ----------------------------------------------------------------------
# 1. training


def bare_train(Z, targets, batch_size, epochs, seed=0):
    """The same MLP / loss / AdamW / batch slicing as skdistill, no skorch."""
    torch.manual_seed(seed)
    module = MLP(Z.shape[1], 2, HIDDEN)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=1e-5)
    crit = DistillationLoss(temperature=2.0, alpha=0.7)
    X = torch.from_numpy(Z)
    T = torch.from_numpy(targets)
    n = X.shape[0]
    durs = []
    module.train()
    for _ in range(epochs):
        t = time.perf_counter()
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            loss = crit(module(X[idx]), T[idx])
            loss.backward()
            opt.step()
        durs.append(time.perf_counter() - t)
    return durs


def bench_training(X, y, teacher, threads_all):
    rows = []
    n = X.shape[0]
    for threads in (1, threads_all):
        torch.set_num_threads(threads)
        for bs in (256, 1024):
            est = DistilledClassifier(
                teacher, hidden_layer_sizes=HIDDEN, max_epochs=EPOCHS, batch_size=bs,
                augment=None, device="cpu", random_state=0,
            ).fit(X, y)
            lib = float(np.median(est.student_.history[:, "dur"]))
            Z = est._encode(X)
            logits = np.log(np.clip(teacher.predict_proba(X), 1e-7, 1)).astype(np.float32)
            targets = np.column_stack([logits, y]).astype(np.float32)
            bare = float(np.median(bare_train(Z, targets, bs, EPOCHS)))
            rows.append((threads, bs, n / lib, n / bare, bare / lib))
    torch.set_num_threads(threads_all)
    return rows


# ----------------------------------------------------------------------
# 2./3. prediction


def general_path(est):
    """The prediction path without skdistill's compiled fast path: the fitted
    scikit-learn preprocessor, then the torch module (the reference the fast
    path replaces)."""
    from skdistill._student import predict_raw

    def predict_proba(X):
        Z = np.asarray(est.preprocessor_.transform(X), dtype=np.float32)
        logits = torch.from_numpy(predict_raw(est.student_.module_, Z, "cpu"))
        return torch.softmax(logits, dim=1).numpy()

    return predict_proba


def bench_predict(est, teacher, X, sess, one_rows):
    n = X.shape[0]
    module = est.student_.module_.eval()
    Z = est._encode(X)
    Zt = torch.from_numpy(Z)

    def bare():
        with torch.inference_mode():
            torch.softmax(module(Zt), dim=1).numpy()

    feed = skdistill.onnx_inputs(est, X)
    res = {}
    res["lib"] = n / best_time(lambda: est.predict_proba(X))
    res["encode"] = n / best_time(lambda: est._encode(X))
    res["bare"] = n / best_time(bare)
    res["teacher"] = n / best_time(lambda: teacher.predict_proba(X))
    if sess is not None:
        res["ort"] = n / best_time(lambda: sess.run(None, feed))
        res["ort_feed"] = n / best_time(lambda: sess.run(None, skdistill.onnx_inputs(est, X)))

    general = general_path(est)
    assert np.allclose(general(X[:2000]), est.predict_proba(X[:2000]), atol=1e-5)
    res["general"] = n / best_time(lambda: general(X))

    # one row
    lat = {}
    rows = [X[i : i + 1] for i in one_rows]
    it = iter(range(10**9))

    def one(fn):
        return median_time(lambda: fn(rows[next(it) % len(rows)]), repeats=300) * 1e6

    lat["lib"] = one(est.predict_proba)
    lat["encode"] = one(est._encode)
    lat["teacher"] = one(teacher.predict_proba)
    with torch.inference_mode():
        z1 = Zt[:1]
        lat["bare"] = one(lambda r: torch.softmax(module(z1), dim=1).numpy())

    lat["general"] = one(general)
    if sess is not None:
        feeds = [skdistill.onnx_inputs(est, r) for r in rows]
        j = iter(range(10**9))
        lat["ort"] = median_time(lambda: sess.run(None, feeds[next(j) % len(feeds)]), 300) * 1e6
        lat["ort_feed"] = one(lambda r: sess.run(None, skdistill.onnx_inputs(est, r)))
    return res, lat


# ----------------------------------------------------------------------
# 4. memory, in subprocesses

MEM_CHILD = r"""
import sys, resource, numpy as np, joblib, torch
est = joblib.load(sys.argv[1]); n = int(sys.argv[2]); d = int(sys.argv[3])
X = np.random.RandomState(0).normal(size=(n, d))
est.predict_proba(X[:10])
import tracemalloc
tracemalloc.start()
P = est.predict_proba(X)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
del P
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
P = est.predict_proba(X)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(traced, (peak - base) * 1024, P.nbytes, X.nbytes)
"""


def bench_memory(est, d, sizes):
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "est.joblib")
        joblib.dump(est, path)
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(MEM_CHILD)
        for n in sizes:
            r = subprocess.run(
                [sys.executable, script, path, str(n), str(d)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)},
            )
            traced, rss, out_bytes, x_bytes = map(int, r.stdout.split()[-4:])
            out[n] = (traced, out_bytes, x_bytes, rss)
    return out


# ----------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--mem-rows", type=int, nargs=2, default=(200_000, 2_000_000))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "benchmark_speed.md"))
    args = ap.parse_args()
    t_start = time.time()
    threads_all = torch.get_num_threads()
    n, d = args.rows, args.features

    X, y = make_classification(n_samples=n, n_features=d, n_informative=12, random_state=0)
    X = X.astype(np.float64)
    print(f"data {n} x {d}; fitting the teacher (HGB, 300 iterations)...", flush=True)
    teacher = HistGradientBoostingClassifier(max_iter=300, early_stopping=False, random_state=0).fit(X, y)

    print("1. training...", flush=True)
    train_rows = bench_training(X, y, teacher, threads_all)

    print("2./3. prediction...", flush=True)
    torch.set_num_threads(threads_all)
    est = DistilledClassifier(
        teacher, hidden_layer_sizes=HIDDEN, max_epochs=1, batch_size=1024, augment=None,
        device="cpu", random_state=0,
    ).fit(X, y)
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        sess = ort.InferenceSession(
            skdistill.to_onnx(est).SerializeToString(), so, providers=["CPUExecutionProvider"]
        )
        got = sess.run(None, skdistill.onnx_inputs(est, X[:5000]))[0]
        ort_err = float(np.abs(got - est.predict_proba(X[:5000])).max())
    except ImportError:
        sess, ort_err = None, None
    pred, lat = bench_predict(est, teacher, X, sess, one_rows=range(0, 5000, 17))
    # the default student, sized from the data (hidden_layer_sizes="auto")
    auto = DistilledClassifier(
        teacher, max_epochs=1, batch_size=1024, augment=None, device="cpu", random_state=0
    ).fit(X, y)
    auto_hidden = tuple(m.out_features for m in auto.student_.module_.layers if hasattr(m, "out_features"))[:-1]
    pred["auto"] = n / best_time(lambda: auto.predict_proba(X))
    rows = [X[i : i + 1] for i in range(0, 5000, 17)]
    it = iter(range(10**9))
    lat["auto"] = median_time(lambda: auto.predict_proba(rows[next(it) % len(rows)]), repeats=300) * 1e6

    print("4. memory...", flush=True)
    mem = bench_memory(est, d, args.mem_rows)
    elapsed = time.time() - t_start

    # -- report ----------------------------------------------------------
    L = []
    L.append("# skdistill speed benchmark\n")
    L.append(
        f"Date: {datetime.date.today().isoformat()}. Machine: {os.cpu_count()} CPU cores, CPU-only "
        f"({platform.processor() or platform.machine()}); Python {platform.python_version()}, "
        f"torch {torch.__version__}, skdistill {skdistill.__version__}. "
        f"Data: {n} x {d} float rows, 2 classes; student MLP hidden {HIDDEN}; "
        f"teacher HistGradientBoostingClassifier(max_iter=300). Run time {elapsed:.0f} s "
        f"(`python benchmarks/speed.py`).\n"
    )
    fit_ratios = [r[4] for r in train_rows]
    L.append("## Goals (issue 5), measured in this run\n")
    L.append("| goal | measured | met |")
    L.append("|---|---|---|")
    L.append(
        f"| fit throughput >= 0.8x bare torch loop (CPU) | {min(fit_ratios):.2f}x to {max(fit_ratios):.2f}x "
        f"| {'yes' if min(fit_ratios) >= 0.8 else 'no'} |"
    )
    r_bare = pred["lib"] / pred["bare"]
    r_teacher = pred["lib"] / pred["teacher"]
    L.append(
        f"| predict_proba >= 0.5x bare forward (encoding included) | {r_bare:.2f}x | {'yes' if r_bare >= 0.5 else 'no'} |"
    )
    L.append(f"| predict_proba >= 20x the HGB teacher | {r_teacher:.1f}x | {'yes' if r_teacher >= 20 else 'no'} |")
    r_auto = pred["auto"] / pred["teacher"]
    L.append(
        f"| the same, default student sized from the data (hidden {auto_hidden}) | "
        f"{r_auto:.1f}x | {'yes' if r_auto >= 20 else 'no'} |"
    )
    ok_lat = lat["lib"] <= 100 and lat["teacher"] / lat["lib"] >= 30
    L.append(
        f"| one-row predict_proba <= 100 µs and >= 30x below the teacher | {lat['lib']:.0f} µs, "
        f"{lat['teacher'] / lat['lib']:.0f}x below | {'yes' if ok_lat else 'no'} |"
    )
    ok_auto = lat["auto"] <= 100 and lat["teacher"] / lat["auto"] >= 30
    L.append(
        f"| the same, default student (hidden {auto_hidden}) | {lat['auto']:.0f} µs, "
        f"{lat['teacher'] / lat['auto']:.0f}x below | {'yes' if ok_auto else 'no'} |"
    )
    L.append("| CUDA figures | not measured: no GPU in this session | - |")
    L.append("")
    L.append("## 1. Training throughput (student training loop)\n")
    L.append(
        "skdistill: median epoch duration from `est.student_.history[:, 'dur']` "
        f"(skorch, TensorBatches, {EPOCHS} epochs). Bare torch: the same MLP, "
        "DistillationLoss, AdamW and randperm batch slicing over pre-built tensors.\n"
    )
    L.append("| device | threads | batch | skdistill rows/s | bare torch rows/s | skdistill / bare |")
    L.append("|---|---|---|---|---|---|")
    for threads, bs, lib, bare, ratio in train_rows:
        L.append(f"| CPU | {threads} | {bs} | {fmt(lib)} | {fmt(bare)} | {ratio:.2f} |")
    for bs in (256, 1024):
        L.append(f"| CUDA | - | {bs} | not measured: no GPU in this session | | |")
    L.append("")
    L.append(f"## 2. Batch prediction throughput ({n} rows, {threads_all} threads)\n")
    L.append("| path | rows/s | vs skdistill predict_proba |")
    L.append("|---|---|---|")
    base = pred["lib"]
    entries = [
        ("skdistill `predict_proba` (encoding included)", pred["lib"]),
        ("  of which: validation + encoding only (`_encode`)", pred["encode"]),
        ("general path: fitted ColumnTransformer + torch forward (what the fast path replaces)", pred["general"]),
        ("bare torch forward + softmax on pre-built tensors", pred["bare"]),
        ("teacher HGB(300) `predict_proba`", pred["teacher"]),
        (f"default student (hidden {auto_hidden}) `predict_proba`", pred["auto"]),
    ]
    if "ort" in pred:
        entries += [
            ("onnxruntime, whole graph (feed pre-built)", pred["ort"]),
            ("onnxruntime incl. `onnx_inputs` feed building", pred["ort_feed"]),
        ]
    for name, v in entries:
        L.append(f"| {name} | {fmt(v)} | {v / base:.2f}x |")
    L.append("| CUDA rows | not measured: no GPU in this session | |")
    L.append("")
    L.append("## 3. One-row latency (median of 300 calls, µs)\n")
    L.append("| path | µs / row | vs skdistill predict_proba |")
    L.append("|---|---|---|")
    base = lat["lib"]
    entries = [
        ("skdistill `predict_proba`", lat["lib"]),
        ("  of which: encoding only (`_encode`)", lat["encode"]),
        ("general path: fitted ColumnTransformer + torch forward", lat["general"]),
        ("bare torch forward + softmax (pre-built tensor)", lat["bare"]),
        ("teacher HGB(300) `predict_proba`", lat["teacher"]),
        (f"default student (hidden {auto_hidden}) `predict_proba`", lat["auto"]),
    ]
    if "ort" in lat:
        entries += [
            ("onnxruntime whole graph (feed pre-built)", lat["ort"]),
            ("onnxruntime incl. `onnx_inputs`", lat["ort_feed"]),
        ]
    for name, v in entries:
        L.append(f"| {name} | {v:.0f} | {v / base:.3f}x |")
    L.append("")
    if ort_err is not None:
        L.append(f"onnxruntime vs `predict_proba` max abs difference on 5000 rows: {ort_err:.2e}.\n")
    L.append(
        "## 4. Peak memory of `predict_proba` (one subprocess per size; extra = tracemalloc peak of "
        "numpy/Python allocations during the call, torch's own buffers excluded; ru_maxrss = "
        "high-water-mark increase of a second call, 0 when the allocator reuses freed memory)\n"
    )
    L.append("| rows | extra peak (tracemalloc) | ru_maxrss increase | output size | X size | extra / output | extra / X |")
    L.append("|---|---|---|---|---|---|---|")
    for rows, (extra, ob, xb, rss) in sorted(mem.items()):
        L.append(
            f"| {rows:,} | {extra / 2**20:.0f} MiB | {rss / 2**20:.0f} MiB | {ob / 2**20:.1f} MiB "
            f"| {xb / 2**20:.0f} MiB | {extra / ob:.1f} | {extra / xb:.2f} |"
        )
    (s, m), (b, M) = sorted(mem.items())[0], sorted(mem.items())[-1]
    beyond_small, beyond_big = m[0] - m[1], M[0] - M[1]  # extra peak minus the output array
    grow = beyond_big / max(beyond_small, 1)
    L.append(
        f"\nFrom {s:,} to {b:,} rows (x{b / s:.0f}), the extra peak beyond the output array went from "
        f"{beyond_small / 2**20:.0f} MiB to {beyond_big / 2**20:.0f} MiB (x{grow:.2f}): "
        + (
            "bounded (one chunk of encoding and forward pass, `skdistill._inference.CHUNK_ROWS` rows), "
            "not growing with the row count.\n"
            if grow <= 1.3
            else "it grows with the row count.\n"
        )
    )
    text = "\n".join(L) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
