"""What one seeder run does: decide from the manifest, generate concurrently, fall back, replace, record.

- Same model and count as the manifest, and every key it lists still in the bucket: skipped (idempotent).
- Otherwise (first run, another model or count, images missing, or `force`): a fresh set is generated
  (or the samples uploaded), the manifest is rewritten, and then the keys the old manifest listed that the
  new set does not reuse are deleted. The API keeps serving the old images until the new ones are stored.
- No manifest but objects under generated/ or samples/ (a bucket seeded by an earlier version of this
  seeder, or uploads): nothing proves the seeder wrote them, so they are kept as they are and a recorded set
  is added next to them.

Generation: the first call runs alone (a retired model or a denied role costs one call, and AccessDenied is
retried in one place), the others on a bounded thread pool. Each call's images have fixed indexes, so keys
(`generated/NN-<sha256[:12]>.<ext>`) do not depend on which call finishes first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from seed_bedrock import BedrockUnavailable, image_type, invoke, request_plan
from seed_store import Manifest, Store

logger = logging.getLogger()

MAX_WORKERS = 5  # concurrent InvokeModel calls: Stability answers one image per call
# One InvokeModel call can take up to (connect + read timeout) × attempts; do not start a call unless that
# much time, plus time to upload the samples, is left.
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, MAX_ATTEMPTS = 5, 60, 2
CALL_BUDGET_MS = (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * MAX_ATTEMPTS * 1000
SAMPLES_BUDGET_MS = 15_000


@dataclass
class Run:
    """One invocation's inputs and collaborators."""

    store: Store
    bedrock: Any
    retry: Any
    model_id: str
    count: int
    force: bool
    remaining_ms: Callable[[], int | None]
    samples_dir: Path
    rerun: str  # the command that re-runs the seeder, quoted in one-time-step messages
    now: Callable[[], str]
    written: list[str]  # every key this invocation stored, as it lands (reported even on failure)


def why_seed(manifest: Manifest | None, present: set[str], model_id: str, count: int, force: bool) -> str | None:
    """Why this run must (re)seed, or None when the recorded seed still stands."""
    if manifest is None:
        return "no manifest" + (f"; {len(present)} unrecorded objects kept" if present else "")
    if force:
        return "forced"
    if manifest.model != model_id:
        return f"model changed from {manifest.model}"
    if manifest.count != count:
        return f"count changed from {manifest.count}"
    missing = [k for k in manifest.keys if k not in present]
    if missing or not manifest.keys:
        return f"{len(missing)} recorded images missing"
    return None


def seed(run: Run) -> dict[str, Any]:
    store = run.store
    manifest = store.read_manifest()
    present = store.present_keys()
    reason = why_seed(manifest, present, run.model_id, run.count, run.force)
    if manifest is not None and reason is None:
        cleaned = clean_stale(store, manifest)  # what an interrupted replacement left behind
        logger.info("seeding skipped: the recorded seed stands", extra={"model": manifest.model, "keys": manifest.keys})
        return {
            "status": "skipped",
            "model": run.model_id,
            "keys": [],
            "reason": f"already seeded with {manifest.model}, {manifest.count} images at {manifest.seeded_at}",
            "recordedKeys": manifest.keys,
            **cleaned,
        }
    logger.info("seeding", extra={"why": reason, "model": run.model_id, "image_count": run.count})
    generated, failure = generate(run)
    result: dict[str, Any] = {"status": "generated", "model": run.model_id, "why": reason}
    if failure is not None:
        logger.warning(
            "bedrock gave no images, uploading bundled samples",
            extra={
                "error_code": failure.reason,
                "detail": failure.detail,
                "operation": "InvokeModel",
                "model": run.model_id,
                "generated_before_failure": len(generated),
            },
        )
        samples = store.upload_samples(run.samples_dir, run.written)
        result |= {"status": "fallback", "reason": failure.reason, "detail": failure.detail}
        result |= {"generatedKeys": generated, "sampleKeys": samples}
    keys = generated + result.get("sampleKeys", [])
    result["keys"] = keys
    # Record the new set first (the old keys as stale), then delete them: an interruption leaves them listed.
    old = (manifest.keys + manifest.stale_keys) if manifest else []
    stale = [k for k in dict.fromkeys(old) if k not in keys]
    recorded = Manifest(run.model_id, run.count, result["status"], keys, run.now(), stale)
    store.write_manifest(recorded)
    return result | clean_stale(store, recorded)


def clean_stale(store: Store, manifest: Manifest) -> dict[str, Any]:
    """Delete the keys an earlier seed wrote and a newer one replaced; record those that could not be deleted."""
    if not manifest.stale_keys:
        return {}
    failed = store.delete(manifest.stale_keys)
    store.write_manifest(replace(manifest, stale_keys=failed))
    replaced = {"replacedKeys": [k for k in manifest.stale_keys if k not in failed]}
    return replaced | ({"staleKeys": failed} if failed else {})


def generate(run: Run) -> tuple[list[str], BedrockUnavailable | None]:
    """Store up to `count` generated images; (their keys in index order, the failure that stopped it)."""
    stored: dict[int, str] = {}
    try:
        plan = request_plan(run.model_id, run.count)
        stored.update(call_and_store(run, *plan[0]))
    except BedrockUnavailable as failure:
        return [], failure
    failure = None
    rest = plan[1:]
    if rest:
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(rest)), thread_name_prefix="seed") as pool:
            futures = [pool.submit(call_and_store, run, *step) for step in rest]
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                try:
                    stored.update(future.result())
                except BedrockUnavailable as err:
                    failure = failure or err
                    for pending in futures:  # calls not started yet are not worth making
                        pending.cancel()
    return [stored[i] for i in sorted(stored)], failure


def call_and_store(run: Run, start: int, wanted: int, body: dict[str, Any]) -> dict[int, str]:
    left = run.remaining_ms()
    if left is not None and left < CALL_BUDGET_MS + SAMPLES_BUDGET_MS:
        raise BedrockUnavailable("OutOfTime", f"{left} ms left, not enough for another model call")
    keys = {}
    for offset, data in enumerate(invoke(run.bedrock, run.retry, run.model_id, body, run.rerun)[:wanted]):
        extension, content_type = image_type(data)
        index = start + offset
        key = f"generated/{index + 1:02d}-{hashlib.sha256(data).hexdigest()[:12]}{extension}"
        keys[index] = run.store.put_image(key, data, content_type, "bedrock")
        run.written.append(key)
    return keys
