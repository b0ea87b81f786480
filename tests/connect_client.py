"""A scenario through kommune's door by an independent client: the Python `connectrpc` package, with code
generated from kommune's protos by its own plugins (protoc-gen-py, protoc-gen-connectrpc), as any
integrator would. It speaks the Connect protocol as it comes: binary protobuf with gzip-compressed
requests by default, JSON when asked.

Usage: python connect_client.py BASE_URL API_KEY  (the generated code on PYTHONPATH). Exits non-zero,
naming the step, at the first thing that is not as promised.
"""

import sys
import uuid

from connectrpc.code import Code
from connectrpc.codec import proto_json_codec
from connectrpc.errors import ConnectError

from google.rpc.error_details_pb import BadRequest
from kommune.common.v1.paging_pb import PageRequest
from kommune.identity.v1.event_service_connect import EventServiceClientSync
from kommune.identity.v1.event_service_pb import WatchEventsRequest
from kommune.identity.v1.municipality_service_connect import MunicipalityServiceClientSync
from kommune.identity.v1.municipality_service_pb import (
    CreateMunicipalityRequest,
    GetMunicipalityRequest,
    ListMunicipalitiesRequest,
    UpdateMunicipalityRequest,
)
from kommune.identity.v1.resources_pb import DebtorSystem, Role
from kommune.identity.v1.token_service_connect import TokenServiceClientSync
from kommune.identity.v1.token_service_pb import ExchangeApiKeyRequest, GetCallerRequest


def check(what, condition):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def refused(call):
    """The ConnectError a call ends with; fails the scenario if it succeeds."""
    try:
        call()
    except ConnectError as error:
        return error
    sys.exit("FAILED: a call that must be refused succeeded")


def main(base, api_key):
    tokens = TokenServiceClientSync(base)
    token = tokens.exchange_api_key(ExchangeApiKeyRequest(api_key=api_key)).access_token
    check("an API key is exchanged for a token without one", token.count(".") == 2)
    auth = {"authorization": f"Bearer {token}"}

    caller = tokens.get_caller(GetCallerRequest(), headers=auth)
    check("the caller is the consortium admin", Role.CONSORTIUM_ADMIN in caller.roles)

    anonymous = refused(lambda: tokens.get_caller(GetCallerRequest()))
    check("a call without a token is unauthenticated", anonymous.code == Code.UNAUTHENTICATED)

    binary = MunicipalityServiceClientSync(base)
    json = MunicipalityServiceClientSync(base, codec=proto_json_codec())
    key = str(uuid.uuid4())
    create = CreateMunicipalityRequest(
        idempotency_key=key,
        code="461",
        name="Odense Kommune",
        cvr_number="35209115",
        debtor_system=DebtorSystem.KMD_OPUS,
    )
    created = binary.create_municipality(create, headers=auth).municipality
    check("a municipality is created in binary protobuf", created.name == "Odense Kommune" and created.municipality_id)
    replayed = json.create_municipality(create, headers=auth).municipality
    check("the same key replayed in JSON answers the first result", replayed.municipality_id == created.municipality_id)

    for client, how in ((binary, "binary"), (json, "JSON")):
        read = client.get_municipality(GetMunicipalityRequest(municipality_id=created.municipality_id), headers=auth, use_get=True)
        check(f"it is read back with GET in {how}", read.municipality.debtor_system == DebtorSystem.KMD_OPUS)

    listed = json.list_municipalities(ListMunicipalitiesRequest(page=PageRequest(page_size=500)), headers=auth)
    check("it is listed", created.municipality_id in [m.municipality_id for m in listed.municipalities])

    updated = binary.update_municipality(
        UpdateMunicipalityRequest(
            municipality_id=created.municipality_id, expected_version=created.version, name="Odense Kommune (ny)"
        ),
        headers=auth,
    ).municipality
    check("it is updated at the version read", updated.name == "Odense Kommune (ny)" and updated.version > created.version)
    stale = refused(
        lambda: json.update_municipality(
            UpdateMunicipalityRequest(
                municipality_id=created.municipality_id, expected_version=created.version, name="Odense"
            ),
            headers=auth,
        )
    )
    check("an update at a stale version is aborted", stale.code == Code.ABORTED)

    bad = refused(
        lambda: binary.create_municipality(
            CreateMunicipalityRequest(idempotency_key=str(uuid.uuid4()), code="9", name="X", cvr_number="1"),
            headers=auth,
        )
    )
    violations = [d.value(BadRequest) for d in bad.details if d.type_name == "google.rpc.BadRequest"]
    fields = {v.field for detail in violations for v in detail.field_violations}
    check(f"bad input is refused with its fields named ({sorted(fields)})", bad.code == Code.INVALID_ARGUMENT and "code" in fields)

    missing = refused(lambda: json.get_municipality(GetMunicipalityRequest(municipality_id=str(uuid.uuid4())), headers=auth))
    check("an unknown id is not found", missing.code == Code.NOT_FOUND)

    events = EventServiceClientSync(base)
    kinds = [e.event.event_type for e in events.watch_events(WatchEventsRequest(follow=False), headers=auth)]
    check(f"the event feed streams to its end ({len(kinds)} events)", any("Municipality" in k for k in kinds))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
