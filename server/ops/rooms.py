"""``antechamber rooms list|create|delete`` and ``antechamber keys rotate`` (docs/cli.md).

Over the native REST API (``/api/v1/rooms``). Key rotation is the room's: ``POST
/api/v1/rooms/{roomId}/rotate-keys`` bumps its key version, so every host, guest, viewer and
recording link issued so far stops opening it; the new links are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from .rest import Client, when

Flags = Callable[[argparse.ArgumentParser], None]


def add_parser(sub: argparse._SubParsersAction, connection: Flags) -> None:
    rooms = sub.add_parser("rooms", help="list, create and delete rooms on a running server")
    verbs = rooms.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="list rooms")
    ls.add_argument("--status", choices=["open", "active_meeting", "closed"])
    ls.add_argument("--name", help="only rooms whose name contains this (any case)")
    ls.add_argument("--limit", type=int, help="at most this many rooms")
    ls.set_defaults(run=list_rooms)
    create = verbs.add_parser("create", help="create a room and print its links")
    create.add_argument("name", nargs="?", default="Room", help="the room's display name")
    create.add_argument("--group", action="store_true", help="a group room (large meetings) instead of normal")
    create.add_argument("--locked", action="store_true", help="guests knock and wait for a host")
    create.set_defaults(run=create_room)
    delete = verbs.add_parser("delete", help="delete rooms")
    delete.add_argument("room_ids", nargs="+", metavar="ROOM_ID")
    delete.add_argument("--force", action="store_true",
                        help="also end a running meeting and delete the room's recordings")
    delete.set_defaults(run=delete_rooms)
    keys = sub.add_parser("keys", help="rotate a room's keys")
    kverbs = keys.add_subparsers(dest="verb", required=True)
    rotate = kverbs.add_parser("rotate", help="invalidate every link of a room issued so far and print the new ones")
    rotate.add_argument("room_id", metavar="ROOM_ID")
    rotate.set_defaults(run=rotate_keys)
    for parser in (ls, create, delete, rotate):
        connection(parser)
        parser.add_argument("--json", action="store_true", help="print the server's JSON answer")


def _room_path(room_id: str) -> str:
    return "/rooms/" + urllib.parse.quote(room_id, safe="")


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2))


def list_rooms(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    query = {"status": args.status, "roomName": args.name, "roomNameMatchMode": "partial" if args.name else None,
             "roomNameCaseInsensitive": "true" if args.name else None}
    rooms = list(client.pages("/rooms", "rooms", query, args.limit))
    if args.json:
        _dump(rooms)
        return 0
    table = Table("room id", "name", "status", "mode", "locked", "created")
    for room in rooms:
        table.add_row(room["roomId"], room.get("roomName", ""), room.get("status", ""), room.get("roomMode", ""),
                      "yes" if room.get("isLocked") else "", when(room.get("creationDate")))
    Console(soft_wrap=True).print(table)
    print(f"{len(rooms)} room(s)")
    return 0


def _links(room: dict) -> list[tuple[str, str]]:
    anonymous = (room.get("access") or {}).get("anonymous") or {}
    return [(label, anonymous[entry]["url"]) for label, entry in
            (("host link", "moderator"), ("guest link", "speaker"), ("recordings link", "recording"))
            if (anonymous.get(entry) or {}).get("enabled") and anonymous[entry].get("url")]


def _print_room(room: dict, title: str) -> None:
    print(f"{title} {room['roomId']} ({room.get('roomName', '')})")
    for label, url in _links(room):
        print(f"  {label:<16} {url}")


def create_room(args: argparse.Namespace) -> int:
    body = {"roomName": args.name, "roomMode": "group" if args.group else "normal", "isLocked": args.locked}
    room = Client.from_args(args).call("POST", "/rooms", body=body)
    if args.json:
        _dump(room)
    else:
        _print_room(room, "created room")
    return 0


def delete_rooms(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    query = {"withMeeting": "force", "withRecordings": "force"} if args.force else None
    answers = []
    for room_id in args.room_ids:
        answer = client.call("DELETE", _room_path(room_id), query=query) or {}
        answers.append({"roomId": room_id, **answer})
        if not args.json:
            print(f"{room_id}: {answer.get('message', 'deleted')}")
    if args.json:
        _dump(answers)
    return 0


def rotate_keys(args: argparse.Namespace) -> int:
    answer = Client.from_args(args).call("POST", _room_path(args.room_id) + "/rotate-keys")
    if args.json:
        _dump(answer)
    else:
        _print_room(answer["room"], "rotated the keys of room")
        print("  links issued before no longer open the room", file=sys.stderr)
    return 0

