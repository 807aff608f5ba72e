"""The AuE-IPA research pipeline and the scripts that build the shipped model files."""
