"""The example plugins of sparsebench's plugin guide (docs/plugins.md): one module per plugin."""
