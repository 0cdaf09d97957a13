"""crmlog: log BCC and forwarded sales e-mail into a local CRM."""
