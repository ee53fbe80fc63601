"""Scale benchmark: labelling on a Dask cluster, and distilling from on-disk transfer sets.

Run:  python benchmarks/scale.py  [--sizes 1000000 4000000] [--out docs/benchmark_scale.md]

Needs the ``[dask]`` extra (dask[distributed], pyarrow). Measures:

1. labelling throughput of :func:`skdistill.label_transfer_set` on a local
   ``dask.distributed`` cluster with 1 and with 2 worker processes (one
   thread each): a RandomForest teacher labels a generated Dask array of
   the first size and writes rows + logits to Parquet (generation, teacher
   and writing included; cluster start and a warm-up excluded);
2. peak resident memory (``ru_maxrss``) of ``DistilledClassifier.fit`` on a
   small in-memory training set plus an on-disk :class:`skdistill.TransferSet`
   of each size, each fit in a fresh subprocess; the goal is a ratio
   largest / smallest <= 1.3 (memory does not grow with the transfer set);
3. for contrast, the same fit with the smallest transfer set passed in
   memory (a NumPy array, labelled by the teacher inside ``fit``).

All fits: 1 epoch, batch 4096, MLP hidden (32,), no augmentation, 1 torch
thread. Writes a Markdown report (default docs/benchmark_scale.md) and
prints it. The transfer sets live in a temporary directory, removed at the
end (about 80 MB of Parquet per million rows).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

N_FEATURES = 8
N_TRAIN = 20_000
CHUNK = 250_000
FIT = dict(
    hidden_layer_sizes=(32,),
    max_epochs=1,
    batch_size=4096,
    lr=3e-3,
    augment=None,
    device="cpu",
    random_state=0,
)


def make_training_data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_TRAIN, N_FEATURES))
    logit = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + 0.5 * X[:, 3] + 0.3 * rng.normal(size=N_TRAIN)
    return X, (logit > 0).astype(int)


def make_teacher():
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_training_data()
    return RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0, n_jobs=1).fit(X, y)


def unlabeled(n, seed):
    import dask.array as da

    return da.random.default_rng(seed).normal(size=(n, N_FEATURES), chunks=(CHUNK, N_FEATURES))


def fmt_rows(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


def mb(kb):
    return kb / 1024


# ---------------------------------------------------------------------------
# child: one fit in a fresh process


def child(args):
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import joblib

    from skdistill import DistilledClassifier, TransferSet

    teacher = joblib.load(args.teacher)
    X, y = make_training_data()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if args.in_memory:
        ts = TransferSet(args.path)
        X_u = np.concatenate([c[0] for c in ts.iter_chunks()])  # the rows, as an array
        loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        est = DistilledClassifier(teacher, **FIT).fit(X, y, X_unlabeled=X_u)
    else:
        loaded = base
        est = DistilledClassifier(teacher, **FIT).fit(X, y, X_unlabeled=TransferSet(args.path))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rng = np.random.default_rng(99)
    X_test = rng.normal(size=(50_000, N_FEATURES))
    agreement = float(np.mean(est.predict(X_test) == teacher.predict(X_test)))
    print(json.dumps(dict(base_kb=base, loaded_kb=loaded, peak_kb=peak, seconds=seconds,
                          n_transfer=int(est.n_transfer_), agreement=agreement)))


def run_child(path, teacher_path, in_memory=False):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--path", path, "--teacher", teacher_path]
    if in_memory:
        cmd.append("--in-memory")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# parent


def label_with_cluster(n_workers, teacher, n_rows, repeats, keep=()):
    """Label ``n_rows`` generated rows ``repeats`` times on a fresh local cluster.

    Returns the best time (rows/s of the fastest repeat), then writes the sets
    in ``keep`` ((n_rows, seed, path) each) and returns their times too.
    """
    from distributed import Client, LocalCluster

    from skdistill import label_transfer_set

    scratch = tempfile.mkdtemp(prefix="skdistill-label-")
    try:
        with LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # a free loopback port
        ) as cluster, Client(cluster):
            warm = unlabeled(20_000, 123).rechunk((10_000, N_FEATURES))
            label_transfer_set(teacher, warm, os.path.join(scratch, "warm"))
            times = []
            for r in range(repeats):
                t0 = time.perf_counter()
                ts = label_transfer_set(teacher, unlabeled(n_rows, 100 + r), os.path.join(scratch, "t"), overwrite=True)
                times.append(time.perf_counter() - t0)
                assert ts.n_rows == n_rows
            kept = []
            for n, seed, path in keep:
                t0 = time.perf_counter()
                label_transfer_set(teacher, unlabeled(n, seed), path)
                kept.append((n, time.perf_counter() - t0))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return min(times), times, kept


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmark_scale.md"))
    parser.add_argument("--repeats", type=int, default=3, help="labelling runs per worker count (best kept)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--teacher", help=argparse.SUPPRESS)
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    import joblib
    import torch

    import dask
    import distributed
    import pyarrow

    import skdistill

    started = time.perf_counter()
    sizes = sorted(args.sizes)
    work = tempfile.mkdtemp(prefix="skdistill-scale-")
    try:
        teacher = make_teacher()
        teacher_path = os.path.join(work, "teacher.joblib")
        joblib.dump(teacher, teacher_path)

        # 1. labelling throughput, 1 and 2 workers (the 2-worker cluster then writes the sets used below)
        load = os.getloadavg()[0]
        paths = {n: os.path.join(work, f"transfer-{n}") for n in sizes}
        one = label_with_cluster(1, teacher, sizes[0], args.repeats)
        two = label_with_cluster(2, teacher, sizes[0], args.repeats, [(n, 1 + i, paths[n]) for i, n in enumerate(sizes)])
        disk = {n: sum(os.path.getsize(os.path.join(paths[n], f)) for f in os.listdir(paths[n])) for n in sizes}

        # 2. streamed fits, each in a fresh process; 3. the in-memory contrast
        streamed = {n: run_child(paths[n], teacher_path) for n in sizes}
        in_memory = run_child(paths[sizes[0]], teacher_path, in_memory=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started

    small, large = sizes[0], sizes[-1]
    ratio = streamed[large]["peak_kb"] / streamed[small]["peak_kb"]
    lines = [
        "# skdistill scale benchmark",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {os.cpu_count()} CPU cores, "
        f"{platform.machine()}; Python {platform.python_version()}, torch {torch.__version__}, "
        f"dask {dask.__version__}, distributed {distributed.__version__}, pyarrow {pyarrow.__version__}, "
        f"skdistill {skdistill.__version__}. Teacher: RandomForestClassifier(20 trees, max_depth 10) "
        f"on {N_TRAIN} x {N_FEATURES} float rows. Run time {elapsed:.0f} s "
        "(`python benchmarks/scale.py`).",
        "",
        "## 1. Labelling throughput (`label_transfer_set` on a local dask.distributed cluster)",
        "",
        f"A generated {fmt_rows(small)}-row Dask array in chunks of {CHUNK} rows, labelled by the "
        "teacher and written as Parquet (rows + logits) by worker processes with one thread each. "
        "Generation, labelling and writing included; cluster start and a 20k-row warm-up excluded. "
        f"Best of {args.repeats} runs (all runs in seconds in the last column). Load average (1 min) "
        f"when the benchmark started: {load:.2f} on {os.cpu_count()} cores.",
        "",
        "| workers | rows | best seconds | rows/s | speed-up | all runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    base_rate = small / one[0]
    for workers, (best, times, _) in ((1, one), (2, two)):
        rate = small / best
        runs = ", ".join(f"{t:.1f}" for t in times)
        lines.append(
            f"| {workers} | {fmt_rows(small)} | {best:.1f} | {fmt_rows(rate)} | {rate / base_rate:.2f}x | {runs} |"
        )
    written = "; ".join(f"{fmt_rows(n)} rows in {t:.1f} s ({fmt_rows(n / t)} rows/s)" for n, t in two[2])
    lines += ["", f"The 2-worker cluster then wrote the transfer sets used below: {written}."]
    lines += [
        "",
        "## 2. Peak memory of fit with an on-disk transfer set (streamed)",
        "",
        f"`DistilledClassifier(teacher, hidden_layer_sizes=(32,), max_epochs=1, batch_size=4096, "
        f"augment=None).fit(X, y, X_unlabeled=TransferSet(path))` with X of {N_TRAIN} rows, in a fresh "
        "process per size; peak RSS is the process's `ru_maxrss` (imports, teacher and training "
        "data included); \"before fit\" is the peak after loading them. Agreement: share of "
        "50k fresh rows where the student predicts the teacher's class.",
        "",
        "| transfer set | Parquet on disk | peak RSS before fit | peak RSS | fit seconds | agreement |",
        "|---|---|---|---|---|---|",
    ]
    for n in sizes:
        r = streamed[n]
        lines.append(
            f"| {fmt_rows(n)} rows | {disk[n] / 2**20:.0f} MB | {mb(r['base_kb']):.0f} MB | "
            f"{mb(r['peak_kb']):.0f} MB | {r['seconds']:.1f} | {r['agreement']:.3f} |"
        )
    goal = "met" if ratio <= 1.3 else "NOT met"
    lines += [
        "",
        f"**Peak RSS ratio {fmt_rows(large)} / {fmt_rows(small)}: {ratio:.3f}** (goal <= 1.3: {goal}).",
        "",
        "## 3. For contrast: the same rows passed in memory",
        "",
        f"The {fmt_rows(small)} rows read into one NumPy array and passed as `X_unlabeled=` (the "
        "teacher labels them inside `fit`, the whole transfer set is encoded and kept as tensors).",
        "",
        "| transfer set | peak RSS after loading the rows | peak RSS | fit seconds | agreement |",
        "|---|---|---|---|---|",
        f"| {fmt_rows(small)} rows in memory | {mb(in_memory['loaded_kb']):.0f} MB | "
        f"{mb(in_memory['peak_kb']):.0f} MB | {in_memory['seconds']:.1f} | {in_memory['agreement']:.3f} |",
        "",
    ]
    report = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    main()
