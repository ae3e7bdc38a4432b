"""Who may see what. Check-ins are about feelings, so they are private by default:
- a member sees their own journal, private note included;
- their manager sees the team and each member's journal, but never a private note;
- anyone else (an owner, say) sees team aggregates only.

Until authentication lands, the person asking is named by the X-Keel-Actor header: a
member by their member id, a manager by the name the team records as its manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.team import Team


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class Viewer:
    actor: str
    is_manager: bool
    member_id: UUID | None

    def may_see_member(self, member_id: UUID) -> bool:
        return self.is_manager or self.member_id == member_id

    def may_see_private_note(self, member_id: UUID) -> bool:
        return self.member_id == member_id


def viewer_of(team: Team, actor: str) -> Viewer:
    member_id: UUID | None = None
    try:
        candidate = UUID(actor)
    except ValueError:
        pass
    else:
        if candidate in team.members:
            member_id = candidate
    return Viewer(actor, is_manager=actor == team.manager, member_id=member_id)
