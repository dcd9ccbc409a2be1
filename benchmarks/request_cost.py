"""Request cost of the image_api handler in moto: AWS calls and latency, cold, warm and with the cache off.

Run from the project root:  ./venv/bin/python benchmarks/request_cost.py [--sizes 100 1000 10000]

Everything runs in process against moto with fake credentials; nothing reaches AWS. Latencies are moto's,
not S3's: they show how cost grows with the number of objects, not what a deployed API answers in.
A benchmark, not a test: it prints a table and fails only if the handler stops answering 200.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from types import ModuleType

from _harness import REGION, load_handler, machine, print_table, use_fake_aws

use_fake_aws()  # before boto3 is imported

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

BUCKET = "aiops-demo-bench-images"
PARAMETER = "/aiops-demo-bench/bucket-name"
GET = {"httpMethod": "GET", "path": "/random"}
IMAGE = b"\xff\xd8\xff\xe0" + bytes(1020)  # 1 KB "JPEG": the body size is not what is measured


def cold_start(ttl_seconds: int) -> tuple[ModuleType, list[str]]:
    """A fresh handler module (a cold container) and the list its AWS calls are recorded in."""
    os.environ["BUCKET_NAME_PARAMETER"] = PARAMETER
    os.environ["IMAGE_CACHE_TTL_SECONDS"] = str(ttl_seconds)
    module = load_handler("image_api")
    calls: list[str] = []
    for client in (module.ssm, module.s3):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return module, calls


def request(module: ModuleType, calls: list[str]) -> tuple[int, float]:
    """One GET: (AWS calls it made, milliseconds)."""
    calls.clear()
    started = time.perf_counter()
    response = module.handler(GET, None)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response["statusCode"] != 200:
        raise SystemExit(f"handler answered {response['statusCode']}: {response['body']}")
    return len(calls), elapsed_ms


def spread(values: list[int]) -> str:
    return str(values[0]) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def measure(objects: int, warm_requests: int, uncached_requests: int) -> dict[str, str]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("ssm", region_name=REGION).put_parameter(Name=PARAMETER, Value=BUCKET, Type="String")
        started = time.perf_counter()
        for i in range(objects):
            s3.put_object(Bucket=BUCKET, Key=f"img-{i:05d}.jpg", Body=IMAGE)
        seed_s = time.perf_counter() - started

        module, calls = cold_start(ttl_seconds=60)
        cold_calls, cold_ms = request(module, calls)
        warm = [request(module, calls) for _ in range(warm_requests)]

        module, calls = cold_start(ttl_seconds=0)
        uncached = [request(module, calls) for _ in range(uncached_requests)]

    return {
        "objects": f"{objects:,}",
        "cold calls": str(cold_calls),
        "cold ms": f"{cold_ms:.1f}",
        "warm calls": spread([c for c, _ in warm]),
        "warm median ms": f"{statistics.median(ms for _, ms in warm):.1f}",
        "TTL=0 calls": spread([c for c, _ in uncached]),
        "TTL=0 median ms": f"{statistics.median(ms for _, ms in uncached):.1f}",
        "seed s": f"{seed_s:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--warm-requests", type=int, default=30)
    parser.add_argument("--uncached-requests", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    rows = []
    for objects in args.sizes:
        rows.append(measure(objects, args.warm_requests, args.uncached_requests))
        print(f"measured {objects:,} objects", file=sys.stderr)
    print(machine())
    print_table(rows)
    print(
        f"\nwarm: {args.warm_requests} requests with IMAGE_CACHE_TTL_SECONDS=60 after one cold request; "
        f"TTL=0: {args.uncached_requests} requests with the cache off (every request lists the bucket).\n"
        "calls = AWS API calls per request (ListObjectsV2 pages count one each); "
        "ms = in-process moto, not S3; seed s = time to create the objects in moto.\n"
        f"total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
