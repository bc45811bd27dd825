"""Zendesk: the API records of a generator row (store.generate), fresh on every call.

Shapes follow the real recorded responses in ../shared/reference/ (every key
of a recorded ticket, with the same JSON types). Pure functions of the row and
the sandbox's base URL: a page renders a pending row without keeping the
result, and building it for keeps (zendesk_state.py) gives the same records.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tierlift.sandbox.store import REFUND_FIELD, SEVERITY_FIELD, iso

REQUESTER = 100000  # a seeded ticket's requester is user REQUESTER + ticket id
NONE_PAIR = {"calendar": None, "business": None}


def requester_seed(uid: Any) -> int | None:
    """The ticket whose seeded requester user `uid` is (None: not one)."""
    return uid - REQUESTER if isinstance(uid, int) and uid > REQUESTER else None


def user_record(base_url: str, uid: int, name: str, email: str, role: str) -> dict[str, Any]:
    return {"id": uid, "url": f"{base_url}/api/v2/users/{uid}.json", "name": name,
            "email": email, "role": role, "active": True, "organization_id": None, "time_zone": "UTC"}


def org_record(base_url: str, org: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {
        "id": org["id"], "url": f"{base_url}/api/v2/organizations/{org['id']}.json", "name": org["name"],
        "domain_names": [], "details": "", "notes": "", "group_id": None, "shared_tickets": False,
        "shared_comments": False, "tags": [org["plan"]], "external_id": None,
        "created_at": iso(created - timedelta(days=300)), "updated_at": iso(created - timedelta(days=30)),
        "organization_fields": {"plan": org["plan"], "arr": org["arr"], "health_score": org["health_score"],
                                "primary_contact": org["primary_contact"]}}


def group_record(base_url: str, gid: int, team: str, now: datetime) -> dict[str, Any]:
    return {"id": gid, "url": f"{base_url}/api/v2/groups/{gid}.json", "name": team,
            "description": "", "default": False, "deleted": False, "is_public": True,
            "created_at": iso(now - timedelta(days=400)), "updated_at": iso(now - timedelta(days=400))}


def ticket_of(s: dict[str, Any], base_url: str) -> dict[str, Any]:
    tid = s["id"]
    created: datetime = s["created_at"]
    at = iso(created)
    org = s["org"]
    requester = REQUESTER + tid
    refund = None if s["refund"] is None else f"{s['refund']:.1f}"
    return {
        "url": f"{base_url}/api/v2/tickets/{tid}.json", "id": tid, "external_id": None,
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": at, "updated_at": at, "generated_timestamp": int(created.timestamp()),
        "type": None, "subject": s["subject"], "raw_subject": s["subject"], "description": s["description"],
        "priority": s["priority"], "status": s["status"], "recipient": None, "requester_id": requester,
        "submitter_id": requester, "assignee_id": None, "organization_id": org["id"] if org else None,
        "group_id": None, "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None,
        "problem_id": None, "has_incidents": False, "is_public": True, "due_at": None, "tags": list(s["tags"]),
        # Custom field values come back as strings (decimal fields too), per the API's schema.
        "custom_fields": [{"id": REFUND_FIELD, "value": refund}, {"id": SEVERITY_FIELD, "value": s["severity"]}],
        "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": 1,
        "fields": [{"id": REFUND_FIELD, "value": refund}, {"id": SEVERITY_FIELD, "value": s["severity"]}],
        "followup_ids": [], "ticket_form_id": 360000000001, "brand_id": 360000000001, "allow_channelback": False,
        "allow_attachments": True, "from_messaging_channel": False,
    }


def requester_of(s: dict[str, Any], base_url: str) -> dict[str, Any]:
    tid = s["id"]
    user = user_record(base_url, REQUESTER + tid, f"Customer {tid}", f"customer{tid}@example.org", "end-user")
    user["organization_id"] = s["org"]["id"] if s["org"] else None
    return user


def first_reply(s: dict[str, Any]) -> datetime | None:
    for c in s["comments"]:
        if c["public"] and c["by_agent"]:
            at: datetime = s["created_at"] + timedelta(minutes=c.get("after", 1))
            return at
    return None


def comment_record(tid: int, author: int, body: str, public: bool, at: datetime, n: int) -> dict[str, Any]:
    return {"id": tid * 10000 + n, "type": "Comment", "author_id": author, "body": body,
            "html_body": f"<p>{body}</p>", "plain_body": body, "public": public, "attachments": [],
            "audit_id": tid * 1000 + n, "via": {"channel": "api"}, "created_at": iso(at), "metadata": {}}


def seed_comments(s: dict[str, Any], agent: int) -> list[dict[str, Any]]:
    """The description as the requester's first comment, then the row's comments (agent's or requester's)."""
    tid, created = s["id"], s["created_at"]
    requester = REQUESTER + tid
    out = [comment_record(tid, requester, s["description"], True, created, n=1)]
    for c in s["comments"]:
        at = created + timedelta(minutes=c.get("after", 1))
        out.append(comment_record(tid, agent if c["by_agent"] else requester, c["body"], c["public"], at,
                                  n=len(out) + 1))
    return out


def seed_audits(s: dict[str, Any], comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One audit per seeded comment, by the comment's author, as Zendesk records them
    (the first also creates the ticket): the audits list every comment the comments
    endpoint does, so a client may read either."""
    out = []
    for n, c in enumerate(comments):
        event = {k: c[k] for k in ("id", "author_id", "body", "html_body", "plain_body", "public", "attachments")}
        events = [{**event, "type": "Comment", "audit_id": c["audit_id"]}]
        if n == 0:
            events.append({"id": c["id"] + 5000, "type": "Create", "field_name": "status", "value": s["status"]})
        out.append({"id": c["audit_id"], "ticket_id": s["id"], "created_at": c["created_at"], "author_id": c["author_id"],
                    "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}, "events": events})
    return out


def metric_of(s: dict[str, Any], base_url: str) -> dict[str, Any]:
    tid, created = s["id"], s["created_at"]
    at = iso(created)
    replied = first_reply(s)
    minutes = int((replied - created).total_seconds() // 60) if replied else None
    return {
        "id": 500000 + tid, "ticket_id": tid, "url": f"{base_url}/api/v2/ticket_metrics/{500000 + tid}.json",
        "group_stations": 1, "assignee_stations": 1, "reopens": s["reopens"], "replies": 1 if replied else 0,
        "assignee_updated_at": None, "requester_updated_at": at, "status_updated_at": at,
        "initially_assigned_at": None, "assigned_at": None,
        "solved_at": iso(created + timedelta(hours=1)) if s["status"] == "solved" else None,
        "latest_comment_added_at": at,
        "reply_time_in_minutes": {"calendar": minutes, "business": minutes},
        "first_resolution_time_in_minutes": dict(NONE_PAIR),
        "full_resolution_time_in_minutes": dict(NONE_PAIR),
        "agent_wait_time_in_minutes": dict(NONE_PAIR),
        "requester_wait_time_in_minutes": dict(NONE_PAIR),
        "on_hold_time_in_minutes": dict(NONE_PAIR),
        "created_at": at, "updated_at": at,
    }
