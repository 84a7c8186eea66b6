"""Bulk writes as background jobs: the 100-item limit, job submission, job-status endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulators.base import Response

from . import jobs
from .context import Call, Context, ok
from .errors import MAX_BATCH, ApiError, bad_request, summary, too_many_values

ItemResult = dict[str, Any]


def items(
    call: Call, plural: str, too_many: Callable[[], ApiError] = too_many_values
) -> list[dict[str, Any]]:
    """``body[plural]`` as a list of objects, at most 100 of them."""
    value = call.body().get(plural)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request("InvalidJSON", f"The request body must contain a {plural!r} array")
    if len(value) > MAX_BATCH:
        raise too_many()
    return value


def run(
    ctx: Context,
    call: Call,
    activity: str,
    batch: list[dict[str, Any]],
    apply: Callable[[int, dict[str, Any]], ItemResult],
    failure: Callable[[int, dict[str, Any], ApiError], ItemResult],
) -> Response:
    """Queue the batch as a job (applied now or when it completes, see :mod:`jobs`), and
    answer with a queued job status."""

    def work() -> list[ItemResult]:
        results = []
        for index, item in enumerate(batch):
            try:
                results.append(apply(index, item))
            except ApiError as error:
                results.append(failure(index, item, error))
        return results

    job = ctx.jobs.submit(activity, len(batch), work, ctx.now())
    return ok({"job_status": jobs.render(job, job_url(call, job.id))})


def failed(error_name: str) -> Callable[[int, dict[str, Any], ApiError], ItemResult]:
    """The per-item failure entry: ``{index, error, id?, details}`` as Zendesk reports it."""

    def entry(index: int, item: dict[str, Any], error: ApiError) -> ItemResult:
        result: ItemResult = {"index": index, "error": error_name}
        if isinstance(item.get("id"), int):
            result["id"] = item["id"]
        if error.status == 404:
            result["error"] = "RecordNotFound"
        result["details"] = summary(error)
        return result

    return entry


def job_url(call: Call, job_id: str) -> str:
    return f"{call.base}/api/v2/job_statuses/{job_id}.json"


def show_job(ctx: Context, call: Call) -> Response:
    job = ctx.jobs.poll(call.request.params["id"], ctx.now())
    return ok({"job_status": jobs.render(job, job_url(call, job.id))})


def show_many_jobs(ctx: Context, call: Call) -> Response:
    ids = call.id_list("ids")
    if len(ids) > MAX_BATCH:
        raise too_many_values("Parameter ids cannot specify more than 100 values")
    found = []
    for job_id in ids:
        try:
            found.append(ctx.jobs.poll(job_id, ctx.now()))
        except ApiError:
            continue
    return ok({"job_statuses": [jobs.render(job, job_url(call, job.id)) for job in found]})
