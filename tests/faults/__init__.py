"""Test-only fault injection: components that misbehave on purpose, installed as a real plugin.

``plugin`` holds the components; ``helpers`` installs them as a distribution with a ``sparsebench``
entry point (so they load through the same discovery as any third-party plugin) and holds the store
and cache checks the reliability tests share.
"""
