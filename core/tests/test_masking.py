from core.masking import mask_openid


def test_openid_keeps_four_characters_at_each_end():
    assert mask_openid("oMama000000000000000000000001") == "oMam…0001"


def test_short_or_missing_openid_reveals_little():
    assert mask_openid("oZZA1234") == "oZ…"
    assert mask_openid("") == ""
    assert mask_openid(None) == ""
