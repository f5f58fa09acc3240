"""Options for uploading pre-annotations to SuperAnnotate."""

from __future__ import annotations

from dataclasses import dataclass

from .base import ALWAYS, check, option

WEB_SCHEMES = ("http://", "https://")

# How the URL of a bucket object is made for SuperAnnotate (see preannotate.cloud.links).
URL_MODES = ("public", "presigned", "integration")
# How items are ordered for annotators (SuperAnnotate priority scores, higher served first).
PRIORITIES = ("doubtful_first", "easy_first", "none")
# Item statuses of a SuperAnnotate project with the default workflow.
SUPERANNOTATE_STATUSES = ("NotStarted", "InProgress", "QualityCheck", "Returned", "Completed", "Skipped")
# What an uploaded draft may be given: the others say people finished or sent back the item, and pull, export
# and the upload guard would take the machine's draft for their work.
DRAFT_STATUSES = ("NotStarted", "InProgress", "QualityCheck")
# Characters SuperAnnotate replaces in project names (the SDK would then not find the project again).
_PROJECT_NAME_FORBIDDEN = set('/\\:*?"<>|“')


@dataclass(frozen=True)
class SuperAnnotateOptions:
    """Uploading the pre-annotations to a SuperAnnotate Video project.

    The token is never an option: it comes from SA_TOKEN, a Colab secret or the SDK's config file.
    """

    project: str = option("", "The Video project to create or reuse; required to upload.")
    project_description: str = option(
        "Transcripts pre-annotated with Whisper by preannotate",
        "Description of a project this tool creates.",
    )
    dry_run: bool | None = option(
        None,
        "true: check everything, upload nothing; false: upload (a token is required); null: upload when a token is "
        "found, otherwise a dry run.",
    )
    force_upload: bool = option(
        False,
        "Upload every item again, even those the upload ledger records as unchanged. Items a person has worked on are "
        "still kept (see overwrite_human_edits).",
    )
    overwrite_human_edits: bool = option(
        False,
        "Also replace items a person has worked on: any status but NotStarted, InProgress or the one `status` "
        "gives (QualityCheck, Returned, Completed, Skipped, or one of the team's own workflow), or an "
        "annotation that is not what this tool last uploaded. Their status and annotation are saved first under "
        "`<output>/backups/<UTC time>/<item>.json`. False: such items are skipped and listed with the reason.",
    )
    url_csv: str | None = option(
        None,
        "CSV mapping items to audio URLs. Its columns are `name,url` (item names) or `path,url` (paths relative to "
        "the input folder).",
        path=ALWAYS,
    )
    url_prefix: str | None = option(
        None,
        "Base URL under which the input folder is served; an item's URL is the prefix plus its URL-quoted relative "
        "path. Used for items the CSV does not name.",
    )
    integration: str | None = option(
        None,
        "A SuperAnnotate storage integration (its name in the team) to attach through, for URLs that are not http(s) "
        "(s3://, gs://...); an `integration` column in url_csv names one per row. Without one, only http(s) URLs can "
        "be attached.",
    )
    urls: str | None = option(
        None,
        "For a bucket input.dir (s3://, gs://, az://), how each object's URL is made, after url_csv and url_prefix: "
        "public (its plain HTTPS address; the objects must be publicly readable), presigned (a signed HTTPS URL valid "
        "for url_expiry_hours; annotators opening an item later get no audio), or integration (its bucket URL, "
        "attached through the storage integration named by `integration`). None: url_csv and url_prefix only.",
    )
    url_expiry_hours: float = option(168.0, "Lifetime of presigned URLs, at most 168 (7 days, S3's limit).")
    keep_status: bool = option(False, "Leave item statuses as they are after an upload.")
    status: str = option(
        "InProgress",
        "The status uploaded items get unless keep_status: NotStarted, InProgress (SuperAnnotate's own default) or "
        "QualityCheck; never Completed, Returned or Skipped, which would pass the draft off as people's work. An item "
        "in this status is judged by its annotation alone when uploading again.",
    )
    batch_size: int = option(
        100,
        "Annotations per upload request; the ledger is saved before and after each round of batches "
        "(one batch while it records fewer than 8 batches' worth of items).",
    )
    max_attempts: int = option(
        5,
        "Tries per request when SuperAnnotate fails transiently (connection errors, 429, 5xx).",
    )
    backoff_seconds: float = option(1.0, "Wait before the first retry; doubles with each further one, at most 60 s.")
    verify_upload: bool = option(
        True,
        "Read uploaded annotations back and compare them before recording them as uploaded (superannotate 4.6.2 can "
        "report success for an upload whose retried request lost its body).",
    )
    priority: str = option(
        "doubtful_first",
        "The order annotators are served items in, sent as SuperAnnotate priority scores from each file's predicted "
        "WER: doubtful_first (highest predicted WER first), easy_first (lowest first), or none (no scores sent). Files"
        " without a predicted WER get no score.",
    )
    custom_fields: bool = option(
        True,
        "Give items the custom fields predicted_wer, duration_seconds, language and doubtful_share (created in the "
        "project when missing), so managers can filter and sort by them.",
    )
    control_share: float = option(
        0.0,
        "Share of items (0 to 1) uploaded with chunk boundaries but no text, as a control arm for comparing the effort"
        " of typing with that of editing drafts. Each item's arm comes from a seeded hash of its name, so it is "
        "reproducible and does not change when files are added.",
    )
    control_seed: int = option(0, "Seed of that draw; another seed picks other items.")

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        bad = sorted(set(self.project) & _PROJECT_NAME_FORBIDDEN)
        check(not bad, f"superannotate.project must not contain {' '.join(bad)}")
        check(self.project == self.project.strip(), "superannotate.project must not start or end with spaces")
        check(bool(self.project_description.strip()), "superannotate.project_description must not be empty")
        check(
            self.status in DRAFT_STATUSES,
            f"superannotate.status must be one of {', '.join(DRAFT_STATUSES)}, got {self.status!r}"
            + (": a machine draft is not people's finished work" if self.status in SUPERANNOTATE_STATUSES else ""),
        )
        check(
            self.url_prefix is None or "://" in self.url_prefix,
            f"superannotate.url_prefix must be an absolute URL like 'https://host/audio/', got {self.url_prefix!r}",
        )
        check(self.url_csv is None or bool(self.url_csv.strip()), "superannotate.url_csv must not be empty")
        check(self.integration is None or bool(self.integration.strip()), "superannotate.integration must not be empty")
        check(
            self.url_prefix is None or self.integration is not None or is_web_url(self.url_prefix),
            f"superannotate.url_prefix {self.url_prefix!r} is not an http(s) URL: only http(s) URLs can be attached "
            "unless superannotate.integration names a SuperAnnotate storage integration",
        )
        check(
            self.urls is None or self.urls in URL_MODES,
            f"superannotate.urls must be one of {', '.join(URL_MODES)}, got {self.urls!r}",
        )
        check(
            self.urls != "integration" or self.integration is not None,
            "superannotate.urls: integration needs superannotate.integration (the storage integration's name)",
        )
        check(0 < self.url_expiry_hours <= 168, "superannotate.url_expiry_hours must be in (0, 168]")
        check(
            self.priority in PRIORITIES,
            f"superannotate.priority must be one of {', '.join(PRIORITIES)}, got {self.priority!r}",
        )
        check(1 <= self.batch_size <= 500, "superannotate.batch_size must be in [1, 500]")
        check(1 <= self.max_attempts <= 20, "superannotate.max_attempts must be in [1, 20]")
        check(0 <= self.backoff_seconds <= 60, "superannotate.backoff_seconds must be in [0, 60]")
        check(0.0 <= self.control_share <= 1.0, "superannotate.control_share must be in [0, 1]")


def is_web_url(url: str) -> bool:
    """Whether the URL is http(s), which SuperAnnotate can attach without a storage integration."""
    return url.strip().lower().startswith(WEB_SCHEMES)
