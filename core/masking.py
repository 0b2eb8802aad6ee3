"""How staff pages show a WeChat user's openid outside its own page: masked (``oMam…0001``).

An openid identifies a parent across every mini-program call; a list, a history or another row's
page needs only enough of it to tell two parents apart. The parent's and the contact's own
detail pages show it whole; search still takes the whole openid.
"""

MASK_KEEP = 4  # characters kept at each end


def mask_openid(openid: str | None) -> str:
    """``oMama000000000000000000000001`` → ``oMam…0001``; an id too short to mask keeps only its start."""
    if not openid:
        return ""
    if len(openid) <= 2 * MASK_KEEP:
        return f"{openid[: MASK_KEEP // 2]}…"
    return f"{openid[:MASK_KEEP]}…{openid[-MASK_KEEP:]}"
