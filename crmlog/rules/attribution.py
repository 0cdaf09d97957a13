"""ATTR and SESSION: which user gets the credit for a logged e-mail. Pure functions."""

from __future__ import annotations

from ..model import Attribution, Code, Rejected, TeamInbox, User, normalize_login


def session_user(users: tuple[User, ...], login: str) -> User | None:
    """SESSION: the user whose SASL login (or account e-mail) is `login`, if exactly one."""
    login = normalize_login(login)
    if not login:
        return None
    found = [u for u in users if login in u.logins] or [u for u in users if u.email == login]
    return found[0] if len(found) == 1 else None


def _first_connected(users: list[User], address: str) -> User:
    """ATTR-4: never at random: the earliest connection of `address`, then the lowest id."""

    def when(u: User) -> tuple[str, int]:
        return (min(t for a, t in u.inboxes if a == address), u.id)

    return min(users, key=when)


def attribute(
    sender: str,
    users: tuple[User, ...],
    team_inboxes: tuple[TeamInbox, ...],
    session: User | None,
) -> Attribution | Rejected:
    session_email = session.email if session else None

    def credit(user: User, rule: str, candidates: list[User], ambiguous=False) -> Attribution:
        return Attribution(
            user=user.email,
            rule=rule,
            candidates=tuple(u.email for u in candidates),
            session_user=session_email,
            ambiguous=ambiguous,
        )

    by_email = {u.email: u for u in users}
    for inbox in team_inboxes:  # ATTR-T
        if inbox.address == sender:
            owner = session or by_email.get(inbox.connected_by)
            if owner is not None:
                cands = [u for u in (by_email.get(inbox.connected_by), session) if u]
                return credit(owner, "ATTR-T", list({u.email: u for u in cands}.values()))

    tiers = (
        ("ATTR-1", [u for u in users if any(a == sender for a, _ in u.inboxes)]),
        ("ATTR-2", [u for u in users if u.email == sender]),
        ("ATTR-3", [u for u in users if sender in u.aliases]),
    )
    for rule, candidates in tiers:
        if len(candidates) == 1:
            return credit(candidates[0], rule, candidates)
        if len(candidates) > 1:  # ATTR-4 (for aliases shared by several users too)
            if session is not None and session in candidates:
                return credit(session, "ATTR-4", candidates)
            if rule == "ATTR-1":
                chosen = _first_connected(candidates, sender)
            else:
                chosen = min(candidates, key=lambda u: u.id)
            return credit(chosen, "ATTR-4", candidates, ambiguous=True)
    return Rejected(
        code=Code.SENDER_NOT_A_USER,
        reason=f"the sender {sender} is not a user, a user's inbox or alias, or a team inbox",
        rules=("ATTR-5",),
    )
