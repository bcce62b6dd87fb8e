"""Drives rollcall with the real `deployhub` client: login(), then get_json().

Usage: deployhub_client.py BASE_URL ADMIN_PASSWORD
Prints one JSON object with every answer the client got; the Rust test
(tests/deployhub_client.rs) checks them and the server's state.
"""

import json
import sys

from deployhub import dhapi

base, password = sys.argv[1], sys.argv[2]
api = base + "/dmadminweb/API"
out = {}

errors = []
out["bad_login"] = dhapi.login(base, "admin", "wrong-password", errors) is None
out["bad_login_errors"] = errors

errors = []
cookies = dhapi.login(base, "admin", password, errors)
out["login_ok"] = cookies is not None
out["login_errors"] = errors

out["assign"] = dhapi.get_json(api + "/assign/user/alice/Developers", cookies)
out["assign_again"] = dhapi.get_json(api + "/assign/user/alice/GLOBAL.Engineering.Developers", cookies)
out["user"] = dhapi.get_json(api + "/user/alice", cookies)
out["list_users"] = dhapi.get_json(api + "/list/users", cookies)
out["unknown_group"] = dhapi.get_json(api + "/assign/user/alice/Nope", cookies)
out["unassign"] = dhapi.get_json(api + "/unassign/user/alice/Developers", cookies)
out["no_session"] = dhapi.get_json(api + "/assign/user/alice/Developers", None)

print(json.dumps(out))
