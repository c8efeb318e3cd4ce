#!/usr/bin/python3
"""Validate a JSON response body against one of Tempest's response schemas.

Usage:
    tempest_schema.py [--status N] SERVICE MODULE ATTRIBUTE < body.json

SERVICE is the directory under tempest/lib/api_schema/response/ (compute,
volume, ...), MODULE the module path below it (v2_1.flavors, v2_61.flavors)
and ATTRIBUTE the schema dict in that module (list_flavors_details).  For
example:

    tempest_schema.py compute v2_61.flavors list_flavors_details < body.json
    tempest_schema.py --status 201 compute v2_2.keypairs create_keypair < body

Only the schema's 'response_body' part is checked, with the validator class
and format checker Tempest's own rest client uses
(tempest.lib.common.rest_client.JSONSCHEMA_VALIDATOR and FORMAT_CHECKER),
so date-time and uri formats are checked the way Tempest checks them.  With
--status N the schema's 'status_code' list must contain N.  A schema without
'response_body' expects an empty body.

Exit status: 0 valid, 1 invalid (the reason on stderr), 2 usage errors.
Run it with Debian's /usr/bin/python3 (python3-tempest).
"""

import argparse
import importlib
import json
import sys

import jsonschema
from tempest.lib.common import rest_client


def load_schema(service, module, attribute):
    path = "tempest.lib.api_schema.response.%s.%s" % (service, module)
    try:
        mod = importlib.import_module(path)
    except ImportError as e:
        print("tempest_schema: no schema module %s: %s" % (path, e),
              file=sys.stderr)
        sys.exit(2)
    try:
        return getattr(mod, attribute)
    except AttributeError:
        names = sorted(n for n in dir(mod) if not n.startswith("_")
                       and isinstance(getattr(mod, n), dict))
        print("tempest_schema: %s has no schema %r (it has: %s)"
              % (path, attribute, ", ".join(names)), file=sys.stderr)
        sys.exit(2)


def validate(schema, body_text, status=None):
    """Returns None when valid, else a message saying why not."""
    if status is not None:
        codes = schema.get("status_code", [])
        if status not in codes:
            return "status %d is not one of %s" % (status, codes)
    body_schema = schema.get("response_body")
    if body_schema is None:
        if body_text.strip():
            return "the body should be empty, got: %s" % body_text[:200]
        return None
    try:
        body = json.loads(body_text)
    except ValueError as e:
        return "the body is not JSON (%s): %s" % (e, body_text[:200])
    try:
        jsonschema.validate(body, body_schema,
                            cls=rest_client.JSONSCHEMA_VALIDATOR,
                            format_checker=rest_client.FORMAT_CHECKER)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        return "HTTP response body is invalid at %s: %s" % (where, e.message)
    return None


def main(argv):
    p = argparse.ArgumentParser(
        description="Validate a JSON body (stdin) against a Tempest schema.")
    p.add_argument("--status", type=int,
                   help="also require this HTTP status in 'status_code'")
    p.add_argument("service", help="compute, volume, ...")
    p.add_argument("module", help="module below the service, e.g. v2_1.flavors")
    p.add_argument("attribute", help="schema name, e.g. list_flavors")
    args = p.parse_args(argv)
    schema = load_schema(args.service, args.module, args.attribute)
    if not isinstance(schema, dict):
        print("tempest_schema: %s is not a schema dict" % args.attribute,
              file=sys.stderr)
        return 2
    why = validate(schema, sys.stdin.read(), args.status)
    if why:
        print("tempest_schema: %s.%s.%s: %s" % (args.service, args.module,
                                                 args.attribute, why),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
