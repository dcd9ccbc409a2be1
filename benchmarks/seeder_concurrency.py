"""Seeder wall time with Bedrock calls one after another versus on the bounded thread pool.

Run from the project root:  ./venv/bin/python benchmarks/seeder_concurrency.py [--delay 0.2] [--counts 5 10]

Bedrock is a stub that answers one Stability-style image per call after a fixed delay (a real Stable Image
call takes seconds; only the ratio matters); S3 is moto, in process, with fake credentials. "sequential" is
the same handler with one worker. A benchmark, not a test: it prints a table and fails only if a run does
not store every image.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
from types import ModuleType

from _harness import REGION, load_handler, machine, print_table, use_fake_aws

use_fake_aws()  # before boto3 is imported

import boto3  # noqa: E402
from botocore.response import StreamingBody  # noqa: E402
from moto import mock_aws  # noqa: E402

MODEL = "stability.stable-image-core-v1:1"


class DelayedBedrock:
    """invoke_model answering one small JPEG per call after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    def invoke_model(self, **params: object) -> dict:
        self.calls += 1
        time.sleep(self.delay)
        image = b"\xff\xd8\xff\xe0" + json.loads(params["body"])["prompt"].encode() + bytes(1000)
        raw = json.dumps({"finish_reasons": [None], "images": [base64.b64encode(image).decode()]}).encode()
        return {"body": StreamingBody(io.BytesIO(raw), len(raw))}


def load_seeder() -> ModuleType:
    """A fresh handler module (a cold container), its sibling modules imported from its folder as in Lambda."""
    return load_handler("image_seeder")


def run(count: int, workers: int, delay: float) -> tuple[float, int]:
    """(seconds for one seeding of an empty bucket, InvokeModel calls)."""
    bucket = f"bench-seed-{count}-{workers}"
    os.environ.update({"BUCKET_NAME": bucket, "MODEL_ID": MODEL, "IMAGE_COUNT": str(count)})
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        seeder = load_seeder()
        sys.modules["seeding"].MAX_WORKERS = workers
        seeder.bedrock = DelayedBedrock(delay)
        started = time.perf_counter()
        result = seeder.handler({}, None)
        elapsed = time.perf_counter() - started
    if result["status"] != "generated" or len(result["keys"]) != count:
        raise SystemExit(f"seeding {count} images did not store them all: {result}")
    return elapsed, seeder.bedrock.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per stubbed InvokeModel call")
    parser.add_argument("--counts", type=int, nargs="+", default=[5, 10])
    args = parser.parse_args()

    run(1, 1, 0.0)  # warm-up: imports, service models, moto
    workers = load_seeder().MAX_WORKERS
    rows = []
    for count in args.counts:
        sequential, calls = run(count, 1, args.delay)
        concurrent, _ = run(count, workers, args.delay)
        rows.append(
            {
                "images": str(count),
                "model calls": str(calls),
                "sequential s": f"{sequential:.2f}",
                "concurrent s": f"{concurrent:.2f}",
                "in call times": f"{concurrent / args.delay:.1f}",
                "speed-up": f"{sequential / concurrent:.1f}x",
            }
        )
    print(machine())
    print_table(rows)
    print(
        f"\nstub: {args.delay} s per InvokeModel call, one image per call (Stability); S3 in moto, in process; "
        f"concurrent: the first call alone, then {workers} workers."
    )


if __name__ == "__main__":
    main()
