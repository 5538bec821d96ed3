"""Credentials out of sight: the one helper that masks what a URI carries, wherever a URI is shown,
logged or tagged (DESIGN.md, "Safety")."""

import re

_USER_INFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/?#@:'\"]*)(?P<password>:[^\s?#'\"]*)?@")
_PARAMETER = re.compile(r"(?<![\w.%+-])(?P<name>[A-Za-z][\w.%+-]*)=(?P<value>\*\*\*|[^&;\s#'\"]+)")
SECRET_WORDS = ("pass", "pwd", "key", "sig", "signature", "auth", "sas", "credential", "credentials")
SECRET_ENDINGS = ("password", "passwd", "passphrase", "pwd", "token", "secret", "key")
"""A parameter holds a credential when a word of its name (``client_secret``, ``X-Amz-Signature``)
is one of ``SECRET_WORDS`` or ends with one of these (``sslpassword``, ``apikey``); ``max_tokens`` does not."""


def masked(text: str) -> str:
    """``text`` with every credential a URI in it carries shown as ``***``: what may be logged,
    tagged or printed. The password of a user-info (``user:***@host``); a user-info alone, which
    may be a token (``***@host``); the value of a query or connection-string parameter named as a
    secret (``?password=***``, ``&token=***``, ``;Pwd=***``), percent-encoded names included."""
    from urllib.parse import unquote_plus

    def user_info(found: re.Match) -> str:
        if found["password"] is None:
            return f"{found['scheme']}***@"
        return f"{found['scheme']}{found['user']}:***@"

    def parameter(found: re.Match) -> str:
        words = re.split(r"[^a-z0-9]+", unquote_plus(found["name"]).lower())
        secret = any(word in SECRET_WORDS or word.endswith(SECRET_ENDINGS) for word in words)
        return f"{found['name']}=***" if secret else found[0]

    return _PARAMETER.sub(parameter, _USER_INFO.sub(user_info, text))
