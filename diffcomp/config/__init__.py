"""The config layer, below everything else: field checks and their error type, exact sweep ranges,
where conf/ lives, and the resolvers ``conf/`` uses (registered on import)."""

from diffcomp.config.resolvers import register as _register_resolvers

_register_resolvers()
