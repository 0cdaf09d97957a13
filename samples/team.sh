#!/bin/sh
# The sample team and deals, in a fresh sample database. Run from the repository's top:
#   CRMLOG_CONFIG=samples/config.toml CRMLOG_DB=samples/out/crm.json sh samples/team.sh
set -e
case "$CRMLOG_DB" in
  samples/out/*) rm -rf samples/out ;;
  *) echo "team.sh: set CRMLOG_DB=samples/out/crm.json (it starts that database afresh)" >&2; exit 64 ;;
esac
crmlog users add anna@ourco.example --name "Anna Schmidt" --inbox anna@ourco.example --login anna
crmlog users add ben@ourco.example --name "Ben Li" --seat read-only
crmlog team-inboxes add sales@ourco.example --connected-by anna@ourco.example
crmlog deals add "Acme pilot" --contact li.wei@acme-industrial.com --created 2026-05-01T10:00:00Z
crmlog deals add "Acme framework contract" --contact li.wei@acme-industrial.com --stage won --created 2026-03-01T10:00:00Z
