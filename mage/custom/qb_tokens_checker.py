"""Token check: the stored (or qb_refresh_token) refresh token still works.

Refreshes the access token when it is about to expire and stores a rotated refresh token
in the library's token store at once; invalid_grant fails here, before any extraction.
"""

from qbo_backfill.integrations import mage as qbo_mage

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def qb_tokens_checker(*args, **kwargs) -> dict:
    """Realm, environment and access-token expiry; never a token."""
    return qbo_mage.check_token(kwargs)
