"""The web console: server-rendered pages (Integrations, tenant details, Credential Profiles,
Sync History, the API docs page), login, and what every HTTP response gets (error pages or JSON,
security headers)."""
