"""The config layer: validation, sweep planning and the resolvers ``conf/`` uses."""

from diffcomp.config.resolvers import register as _register_resolvers

_register_resolvers()
