"""One-time tokens kept in the session, for forms whose second submission must do nothing.

A confirmation page gets a nonce (``nonce_issue``); its POST spends it (``nonce_spend``). A
reload or a second tab finds the nonce spent, so the action behind it runs once.
"""

from core.tokens import token_new

NONCES_KEPT = 20  # confirmation pages one user may have open at once, per key


def nonce_issue(request, key: str) -> str:
    """A new nonce for ``request``'s session under ``key``; the oldest beyond ``NONCES_KEPT`` are dropped."""
    nonce = token_new(nbytes=16)
    request.session[key] = [*request.session.get(key, [])[-(NONCES_KEPT - 1) :], nonce]
    return nonce


def nonce_spend(request, key: str, nonce: str) -> bool:
    """Whether ``nonce`` was issued to this session under ``key`` and not yet spent; spends it.

    The session is saved at once, so that a parallel resubmission finds the nonce gone.
    """
    nonces = request.session.get(key, [])
    if nonce not in nonces:
        return False
    request.session[key] = [n for n in nonces if n != nonce]
    request.session.save()
    return True
