"""Register a class in a ``@Module(...)`` with a libcst edit that keeps the file's formatting.

libcst keeps every comment, blank line and bracket style, so the only lines that change are
the new import and the edited ``providers=[...]`` / ``imports=[...]`` argument. The edit is
idempotent: an existing import or list entry is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

__all__ = ["RegistrationError", "register_in_module"]

Field = Literal["providers", "imports"]
_CODE = cst.Module(body=[])


class RegistrationError(Exception):
    """The module file cannot be edited safely; the message says what to do by hand."""


@dataclass(frozen=True, slots=True)
class Registration:
    """The edited source and the name of the ``@Module`` class that was edited."""

    source: str
    module_class: str


def _code(node: cst.CSTNode) -> str:
    return _CODE.code_for_node(node).strip()


def _is_module_decorator(dec: cst.Decorator) -> bool:
    expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
    if isinstance(expr, cst.Name):
        return expr.value == "Module"
    return isinstance(expr, cst.Attribute) and expr.attr.value == "Module"


def _separator(
    items: Sequence[cst.Element] | Sequence[cst.Arg], opening: cst.BaseParenthesizableWhitespace
) -> cst.Comma:
    """The comma to put between two items, copied from the items already there (no comment)."""
    for item in items[:-1]:
        if isinstance(item.comma, cst.Comma):
            return _without_comment(item.comma)
    if isinstance(opening, cst.ParenthesizedWhitespace):
        # One item on its own line: the next one goes on a line indented like it.
        return cst.Comma(
            whitespace_after=cst.ParenthesizedWhitespace(
                first_line=cst.TrailingWhitespace(),
                indent=opening.indent,
                last_line=opening.last_line,
            )
        )
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _without_comment(comma: cst.Comma) -> cst.Comma:
    ws = comma.whitespace_after
    if isinstance(ws, cst.ParenthesizedWhitespace):
        return comma.with_changes(
            whitespace_after=ws.with_changes(first_line=cst.TrailingWhitespace())
        )
    return comma


def _split_closing(
    separator: cst.Comma, closing: cst.BaseParenthesizableWhitespace
) -> tuple[cst.Comma, cst.BaseParenthesizableWhitespace]:
    """Keep a comment that closed the old last item on that item's line.

    In a multi-line list the whitespace before the closing bracket starts with the rest of
    the last item's line (``Zed,  # last``). The old last item now gets a separator, which
    takes that comment; the new closing whitespace is the same newline without it.
    """
    sep_ws = separator.whitespace_after
    if isinstance(closing, cst.ParenthesizedWhitespace) and isinstance(
        sep_ws, cst.ParenthesizedWhitespace
    ):
        return (
            separator.with_changes(
                whitespace_after=sep_ws.with_changes(first_line=closing.first_line)
            ),
            closing.with_changes(first_line=cst.TrailingWhitespace()),
        )
    return separator, closing


def _append_element(node: cst.List | cst.Tuple, new: cst.Element) -> cst.List | cst.Tuple:
    """Append *new* to a list or parenthesised tuple, in the style of its other elements."""
    elements = [e for e in node.elements if isinstance(e, cst.Element)]
    if not elements:
        return node.with_changes(elements=[new])
    if isinstance(node, cst.List):
        opening = node.lbracket.whitespace_after
        closing = node.rbracket.whitespace_before
    else:
        opening = node.lpar[0].whitespace_after
        closing = node.rpar[-1].whitespace_before
    separator, closing = _split_closing(_separator(elements, opening), closing)
    last = elements[-1]
    # A trailing comma (the "magic trailing comma" of multi-line lists) moves to the new item.
    new = new.with_changes(comma=last.comma)
    elements[-1] = last.with_changes(comma=separator)
    elements.append(new)
    if isinstance(node, cst.List):
        return node.with_changes(
            elements=elements, rbracket=node.rbracket.with_changes(whitespace_before=closing)
        )
    rpar = [*node.rpar[:-1], node.rpar[-1].with_changes(whitespace_before=closing)]
    return node.with_changes(elements=elements, rpar=rpar)


def _append_arg(call: cst.Call, new: cst.Arg) -> cst.Call:
    """Append keyword argument *new* to *call*, in the style of its other arguments."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new])
    separator = _separator(args, call.whitespace_before_args)
    last = args[-1]
    # Arguments keep the whitespace before ``)`` after the trailing comma when there is
    # one, else after the last argument itself (unlike list elements).
    if isinstance(last.comma, cst.Comma):
        separator, closing = _split_closing(separator, last.comma.whitespace_after)
        new = new.with_changes(comma=last.comma.with_changes(whitespace_after=closing))
        args[-1] = last.with_changes(comma=separator)
    else:
        separator, closing = _split_closing(separator, last.whitespace_after_arg)
        new = new.with_changes(whitespace_after_arg=closing)
        args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
    args.append(new)
    return call.with_changes(args=args)


class _ModuleEditor(cst.CSTTransformer):
    def __init__(self, field: Field, name: str, label: str) -> None:
        super().__init__()
        self.field = field
        self.name = name
        self.label = label
        self.module_class: str | None = None

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        if self.module_class is not None:
            return updated  # only the first @Module class of the file is edited
        decorators = list(updated.decorators)
        for i, dec in enumerate(decorators):
            if _is_module_decorator(dec):
                self.module_class = updated.name.value
                decorators[i] = dec.with_changes(decorator=self._edit(dec.decorator))
                return updated.with_changes(decorators=decorators)
        return updated

    def _edit(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        new_elem = cst.Element(value=cst.Name(self.name))
        if not isinstance(expr, cst.Call):  # bare ``@Module``
            return cst.Call(func=expr, args=[self._new_arg()])
        args = list(expr.args)
        for i, arg in enumerate(args):
            if arg.keyword is None or arg.keyword.value != self.field:
                continue
            value = arg.value
            if not isinstance(value, (cst.List, cst.Tuple)):
                raise RegistrationError(
                    f"{self.field}= of {self.module_class} in {self.label} is not a list; add "
                    f"{self.name} to it by hand, or pass --skip-import"
                )
            if any(_code(el.value) == self.name for el in value.elements):
                return expr
            elements = [e for e in value.elements if isinstance(e, cst.Element)]
            if len(elements) != len(value.elements):
                raise RegistrationError(
                    f"{self.field}= of {self.module_class} in {self.label} unpacks another "
                    f"list; add {self.name} to it by hand, or pass --skip-import"
                )
            args[i] = arg.with_changes(value=_append_element(value, new_elem))
            return expr.with_changes(args=args)
        return _append_arg(expr, self._new_arg())

    def _new_arg(self) -> cst.Arg:
        return cst.Arg(
            keyword=cst.Name(self.field),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
            value=cst.List(elements=[cst.Element(value=cst.Name(self.name))]),
        )


def _import_stmt(stmt: cst.BaseStatement) -> cst.Import | cst.ImportFrom | None:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        node = stmt.body[0]
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return node
    return None


def _from_module(node: cst.ImportFrom) -> str:
    return ("." * len(node.relative)) + (_code(node.module) if node.module else "")


def _has_import(body: Sequence[cst.BaseStatement], module: str, name: str) -> bool:
    for stmt in body:
        node = _import_stmt(stmt)
        if isinstance(node, cst.ImportFrom) and _from_module(node) == module:
            if isinstance(node.names, cst.ImportStar):
                return True
            for alias in node.names:
                bound = alias.asname.name if alias.asname else alias.name
                if isinstance(bound, cst.Name) and bound.value == name:
                    return True
    return False


def _with_import(module: cst.Module, from_module: str, name: str) -> cst.Module:
    """Add ``from from_module import name`` in sorted place among the first-party imports."""
    body = list(module.body)
    if _has_import(body, from_module, name):
        return module
    stmt = cst.parse_statement(f"from {from_module} import {name}\n")
    top = from_module.split(".")[0]
    imports = [(i, node) for i, s in enumerate(body) if (node := _import_stmt(s)) is not None]
    group = [
        (i, node)
        for i, node in imports
        if isinstance(node, cst.ImportFrom) and _from_module(node).split(".")[0] == top
    ]
    if group:
        for i, node in group:
            if isinstance(node, cst.ImportFrom) and _from_module(node) > from_module:
                # Take over the blank lines (or comments) above the line we go in front of.
                stmt = stmt.with_changes(leading_lines=body[i].leading_lines)
                body[i] = body[i].with_changes(leading_lines=())
                body.insert(i, stmt)
                return module.with_changes(body=body)
        body.insert(group[-1][0] + 1, stmt)
    elif imports:
        # A new block of first-party imports, one blank line below the last import.
        body.insert(imports[-1][0] + 1, stmt.with_changes(leading_lines=[cst.EmptyLine()]))
    else:
        at = 1 if body and _is_docstring(body[0]) else 0
        if at < len(body) and not body[at].leading_lines:
            body[at] = body[at].with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
        body.insert(at, stmt.with_changes(leading_lines=[cst.EmptyLine()] if at else []))
    return module.with_changes(body=body)


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def register_in_module(
    source: str, *, name: str, from_module: str, field: Field, label: str
) -> Registration:
    """Add *name* to ``field=[...]`` of the first ``@Module`` class in *source* and import it.

    Args:
        source: the module file's text.
        name: the class to register (``ChannelsGateway``).
        from_module: the dotted module to import it from.
        field: ``"providers"`` for gateways and services, ``"imports"`` for modules.
        label: the file's path as shown in messages.

    Returns:
        The edited source (identical to *source* when nothing was missing) and the class name.

    Raises:
        RegistrationError: no ``@Module`` class, or a ``field=`` value that is not a literal list.
    """
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise RegistrationError(f"{label} does not parse ({exc.message}); fix it first") from None
    editor = _ModuleEditor(field, name, label)
    edited = tree.visit(editor)
    if editor.module_class is None:
        raise RegistrationError(
            f"no @Module class in {label}; add {name} to a module's {field} by hand, "
            f"or pass --skip-import"
        )
    edited = _with_import(edited, from_module, name)
    return Registration(edited.code, editor.module_class)
