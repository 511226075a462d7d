"""The pure parts of cluster mode: the record's JSON, the judgement of a watch round, the view."""

from __future__ import annotations

import json

from supervisor.cluster import keys
from supervisor.cluster.record import NodeRecord, Round, judge
from supervisor.cluster.view import build_view


def rec(name: str, **kw: object) -> NodeRecord:
    return NodeRecord(name=name, version="0.1.0", started_at=1, last_seen=2,
                      api_url=f"http://{name}:3001", **kw)  # type: ignore[arg-type]


def test_a_record_reads_back_and_anything_else_is_ignored():
    r = rec("a", services={"db": "healthy"}, shared=["db"], incarnation="ab12", epoch=2)
    again = NodeRecord.from_json("a", r.to_json())
    assert again == r and again.generation == "ab12.2"
    for junk in (None, "", "not json", "[1, 2]", b"\xff"):
        assert NodeRecord.from_json("a", junk) is None
    odd = NodeRecord.from_json("a", '{"services": [1], "shared": "db", "lastSeen": true}')
    assert odd is not None and odd.services == {} and odd.shared == [] and odd.last_seen == 0
    assert odd.generation == "unknown.0"


def test_a_round_names_who_joined_left_lapsed_and_came_back():
    rnd = Round(members=["a", "b", "c", "d"],
                alive={"a": rec("a"), "b": rec("b"), "c": None, "d": rec("d")},
                down={"a": None, "b": None, "c": None, "d": '{"generation": "x.0"}'})
    v = judge("a", previous_alive={"b"}, previous_members={"a", "b", "c", "d", "e"}, rnd=rnd,
              lapsed_known=set(), may_judge_lapses=True)
    assert v.joined == ["d"] and v.left == ["e"] and v.lapsed == ["c"] and v.back == ["d"]
    # noticed once; and not at all in the grace after this node (re)joined
    assert judge("a", {"b"}, {"a", "b", "c"}, rnd, {"c"}, True).lapsed == []
    assert judge("a", {"b"}, {"a", "b", "c"}, rnd, set(), False).lapsed == []
    # this node never judges itself
    me_gone = Round(["a"], {"a": None}, {"a": None})
    assert judge("a", set(), {"a"}, me_gone, set(), True).lapsed == []


def test_the_view_shows_a_lapsed_node_unknown_and_who_holds_each_lease():
    live = {"a": rec("a", services={"db": "healthy", "web": "failing"}, shared=["db"]),
            "b": None}
    last = {"b": rec("b", services={"db": "healthy"}, shared=["db"])}
    view = build_view("a", standalone=False, ttl_s=15, members=["a", "b"], live=live,
                      last=last, leases={"db": keys.lease_value("a", 7)})
    nodes = {n["name"]: n for n in view["nodes"]}
    assert nodes["a"]["alive"] and nodes["a"]["services"] == {"db": "healthy", "web": "failing"}
    assert not nodes["b"]["alive"] and nodes["b"]["services"] == {"db": "unknown"}
    assert nodes["b"]["lastSeen"] == 2 and nodes["b"]["apiUrl"] == "http://b:3001"
    assert view["sharedServices"] == [{"name": "db", "states": {"a": "healthy", "b": "unknown"},
                                       "leaseHolder": "a", "fencingToken": 7,
                                       "gaveUp": None}]
    assert view["redisReachable"] is True and view["standalone"] is False


def test_the_view_names_the_node_that_gave_up_on_a_shared_service():
    live = {"a": rec("a", services={"db": "gave_up"}, shared=["db"])}
    mark = json.dumps({"node": "a", "reason": "recovery failed after 2 attempt(s)", "at": 5.0})
    view = build_view("a", standalone=False, ttl_s=15, members=["a"], live=live, last={},
                      leases={}, gave_up={"db": mark})
    assert view["sharedServices"][0]["gaveUp"] == {
        "node": "a", "reason": "recovery failed after 2 attempt(s)", "at": 5.0}
    garbage = build_view("a", standalone=False, ttl_s=15, members=["a"], live=live, last={},
                         leases={}, gave_up={"db": "not json"})
    assert garbage["sharedServices"][0]["gaveUp"] == {"node": None, "reason": "not json",
                                                      "at": None}, "still given up on"


def test_a_lease_value_of_another_shape_is_no_holder():
    view = build_view("a", standalone=False, ttl_s=15, members=["a"],
                      live={"a": rec("a", services={"db": "healthy"}, shared=["db"])},
                      last={}, leases={"db": "garbage"})
    assert view["sharedServices"][0]["leaseHolder"] is None
    assert view["sharedServices"][0]["fencingToken"] is None


def test_a_node_never_seen_has_no_details():
    view = build_view("a", standalone=False, ttl_s=15, members=["a", "ghost"],
                      live={"a": rec("a"), "ghost": None}, last={}, leases={})
    ghost = next(n for n in view["nodes"] if n["name"] == "ghost")
    assert ghost == {"name": "ghost", "alive": False, "lastSeen": None, "version": None,
                     "apiUrl": None, "services": {}}
