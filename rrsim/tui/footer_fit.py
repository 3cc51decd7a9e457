"""Which keys the footer has room for: every one that fits the terminal's width, the least needed
left out first, so that no key is cut off or reachable only by scrolling the footer (help, ?,
lists them all). Pure: the widths are the compact footer's, as laid out by Textual."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from textual.binding import Binding

GAP = 1  # cells between two footer items (a key's right margin; margins collapse)


@dataclass(frozen=True)
class FooterItem:
    """One thing the footer draws: a key and its label, or a group's keys run together and its label."""

    actions: tuple[str, ...]
    width: int  # in cells, without the gap after it


def footer_items(shown: list[tuple[Binding, str]]) -> list[FooterItem]:
    """The footer's items, in its order, from the bindings it shows and each one's key as displayed.

    As Textual's Footer does, a key bound twice to one action is drawn once, and neighbours of one
    group with more than one action are drawn together as ``[] work``.
    """
    by_action: dict[str, tuple[Binding, str]] = {}
    for binding, key in shown:
        by_action.setdefault(binding.action, (binding, key))
    items = []
    for group, grouped in groupby(by_action.values(), lambda member: member[0].group):
        members = list(grouped)
        if group is not None and len(members) > 1:
            keys = "".join(key for _, key in members)
            items.append(FooterItem(tuple(b.action for b, _ in members), len(keys) + GAP + len(group.description)))
        else:
            items.extend(FooterItem((b.action,), len(key) + GAP + len(b.description)) for b, key in members)
    return items


def left_out(items: list[FooterItem], width: int, least_needed_first: tuple[str, ...]) -> set[str]:
    """The actions to leave out of a footer ``width`` cells wide, one item at a time until the rest
    fit: first those in ``least_needed_first``, in its order, then (on a terminal too small for
    rrsim anyway) the others from the right, so that no label is ever cut off. The first stays."""

    def total(kept: list[FooterItem]) -> int:
        return sum(item.width + GAP for item in kept)  # the last one's margin too: else the footer scrolls by 1

    def rank(item: FooterItem) -> int:
        return min(least_needed_first.index(action) for action in item.actions)

    listed = sorted((item for item in items if set(item.actions) & set(least_needed_first)), key=rank)
    others = [item for item in reversed(items[1:]) if item not in listed]
    kept = list(items)
    dropped: set[str] = set()
    for item in [*listed, *others]:
        if total(kept) <= width:
            break
        kept.remove(item)
        dropped.update(item.actions)
    return dropped
