"""ATTR, SESSION and PERM: which user gets the credit for a logged e-mail, and whether that
user may log it. Also the one answer to "which user owns this address" (OWNERSHIP), which
the contact rules (the team's own addresses) and the daily summary (whose rejection is it)
ask too. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ..model import Attribution, Code, Rejected, normalize_login
from ..records import Seat, TeamInbox, User
from .authenticity import authenticated_login
from .draft import Context, Draft, Found

# The ways a user owns an address, in the order attribution tries them (a team inbox
# belongs to the team as a whole: ATTR-T).
OWNERSHIP: tuple[tuple[str, Callable[[User], Iterable[str]]], ...] = (
    ("ATTR-1", lambda u: (a for a, _ in u.inboxes)),  # a personal inbox
    ("ATTR-2", lambda u: (u.email,)),  # the account's e-mail
    ("ATTR-3", lambda u: u.aliases),  # an alias
)


def owners(address: str, users: tuple[User, ...]) -> list[tuple[str, list[User]]]:
    """The users that own `address`, one list per way of OWNERSHIP (empty lists included)."""
    return [(rule, [u for u in users if address in addresses(u)]) for rule, addresses in OWNERSHIP]


def owner_of(address: str, users: tuple[User, ...]) -> str | None:
    """The user (account e-mail) that owns `address` in any way, if exactly one does."""
    found = {u.email for _, owning in owners(address, users) for u in owning}
    return found.pop() if len(found) == 1 else None


def team_addresses(users: tuple[User, ...], team_inboxes: tuple[TeamInbox, ...]) -> frozenset[str]:
    """Every address that belongs to the team itself (never made a contact: BCC-1)."""
    owned = {a for u in users for _, addresses in OWNERSHIP for a in addresses(u)}
    return frozenset(owned | {t.address for t in team_inboxes})


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

    def credit(user: User, rule: str, candidates: list[User], ambiguous: bool = False) -> Attribution:
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

    for rule, candidates in owners(sender, users):  # ATTR-1, ATTR-2, ATTR-3
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


# ---------------------------------------------------------------- the checks of decide()


def find_session(ctx: Context, draft: Draft) -> Found:
    """SESSION: `ingest --user LOGIN`, else the login of the newest `(Authenticated sender:
    LOGIN)` clause inside SEC-4's trusted chain. A clause below the first outside hop is
    whatever the sender wrote there, so it never chooses the user (a forged one would take
    the credit)."""
    login = ctx.session_login or normalize_login(authenticated_login(ctx.message.received, ctx.settings.trusted_hosts))
    session = session_user(ctx.view.users, login)
    return Found(replace(draft, session=session), ("SESSION",) if session is not None else ())


def give_credit(ctx: Context, draft: Draft) -> Found | Rejected:
    """ATTR-T, ATTR-1..4 (ATTR-5: nobody, or no From at all); ATTR-6: the decision records
    the rule, the candidates and the session user."""
    sender = ctx.message.sender
    if sender is None:
        return Rejected(code=Code.SENDER_NOT_A_USER, reason="the message has no From address", rules=("ATTR-5",))
    credit = attribute(sender.email, ctx.view.users, ctx.view.team_inboxes, draft.session)
    if isinstance(credit, Rejected):
        return credit
    return Found(replace(draft, credit=credit), (credit.rule, "ATTR-6"))


def may_log(ctx: Context, draft: Draft) -> Found | Rejected:
    """LIFE-2, PERM-1, PERM-2: the credited user is active and may log e-mail."""
    assert draft.credit is not None  # give_credit ran
    credited = draft.credit.user
    user = next(u for u in ctx.view.users if u.email == credited)
    if not user.active:
        return Rejected(
            code=Code.USER_DEACTIVATED,
            reason=f"{user.email} was deactivated (`crmlog users activate` lets them log again)",
            rules=("LIFE-2",),
        )
    if user.seat == Seat.READ_ONLY:
        return Rejected(
            code=Code.READ_ONLY_SEAT,
            reason=f"{user.email} has a read-only seat and cannot log e-mail",
            rules=("PERM-1",),
        )
    if not user.personal_inbox_access:
        return Rejected(
            code=Code.NO_INBOX_PERMISSION,
            reason=f"{user.email} lacks the personal inbox access permission",
            rules=("PERM-2",),
        )
    return Found(draft)
