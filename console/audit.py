"""The staff audit log. CONTRACT (the body is being written):
`record(session, staff, action, target_type=None, target_id=None, detail=None)` adds one
console.models.StaffAudit row in the caller's transaction; `staff` is a StaffPrincipal or a
username; `detail` holds no personal data in clear."""
from __future__ import annotations


def record(session, staff, action: str, target_type: str | None = None, target_id: str | None = None,
           detail: dict | None = None) -> None:
    raise NotImplementedError
