"""A CTDL Credential Registry: envelope pages of credentials and their owning organizations."""

from scrapers.base.ctdl_registry import CtdlRegistrySpider


class CredentialRegistrySpider(CtdlRegistrySpider):
    name = "credential_registry"
