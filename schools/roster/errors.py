"""An import's errors: stored as JSON on the job, shown as lines in the admin."""

from django.utils.translation import gettext as _

MAX_STORED_ERRORS = 200


def result_errors(result, limit: int = MAX_STORED_ERRORS) -> list[dict]:
    """An import result's errors as JSON: ``{"row", "error"}`` or ``{"row", "errors": {field: [...]}}``."""
    errors = [{"row": None, "error": str(e.error)} for e in result.base_errors]
    for error_row in result.error_rows:
        errors += [{"row": error_row.number, "error": str(e.error)} for e in error_row.errors]
    for invalid in result.invalid_rows:
        fields = {name: [str(m) for m in messages] for name, messages in invalid.field_specific_errors.items()}
        if invalid.non_field_specific_errors:
            fields["__all__"] = [str(m) for m in invalid.non_field_specific_errors]
        errors.append({"row": invalid.number, "errors": fields})
    errors.sort(key=lambda e: e["row"] or 0)
    return truncated_errors(errors, total=len(errors), limit=limit)


def truncated_errors(first: list[dict], *, total: int, limit: int = MAX_STORED_ERRORS) -> list[dict]:
    """The errors an import stores: ``first`` (at least the first ``limit`` of ``total`` errors, in
    order) cut to ``limit``, with a line saying how many more there are."""
    if total <= limit:
        return first[:limit]
    return first[:limit] + [{"row": None, "error": _("…and %(count)d more.") % {"count": total - limit}}]


def import_error_text(error: dict) -> str:
    """One stored import error as a line: ``row 7: name: This field cannot be blank.``"""
    if "errors" in error:
        text = "; ".join(f"{field}: {' '.join(messages_)}" for field, messages_ in error["errors"].items())
    else:
        text = error.get("error", "")
    return f"{_('row')} {error['row']}: {text}" if error.get("row") else text
