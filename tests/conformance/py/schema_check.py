#!/usr/bin/env python3
"""Schema conformance check for tflite-forge.

Compares the flatbuffer schema in our ``tflite.fbs`` against the Python code
that flatc generated for the TFLite schema shipped in the ai-edge-litert wheel
(``ai_edge_litert/schema_py_generated.py``).

Both sides are reduced to "facts" extracted from flatc-generated Python:

  * enums   : name -> {member: value}
  * unions  : name -> {member: value}
  * tables  : name -> {field: (slot, kind, default, ...)} plus the vtable size
              (``StartObject(N)``) and vector element size / alignment
  * structs : name -> {field: (byte offset, kind)}

Usage:
    python schema_check.py --fbs PATH/to/tflite.fbs --flatc PATH/to/flatc

Prints one ``DIFF ...`` line per difference, then a summary line, and exits 1
if any difference was found, 0 otherwise (2 on usage / tool errors).
"""

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------
# Fact extraction from flatc-generated Python
# --------------------------------------------------------------------------

FLAGS_RE = r"flatbuffers\.number_types\.(\w+)Flags"
OFFSET_RE = re.compile(r"self\._tab\.Offset\((\d+)\)")


def _unparse(node):
    return ast.unparse(node)


def _is_enum_class(cls):
    """An enum/union class body holds only `NAME = <int>` assignments."""
    saw = False
    for stmt in cls.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring / comment string
        if isinstance(stmt, ast.Pass):
            continue
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            try:
                val = ast.literal_eval(stmt.value)
            except ValueError:
                return False
            if isinstance(val, bool) or not isinstance(val, int):
                return False
            saw = True
            continue
        return False
    return saw


def _enum_members(cls):
    out = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            out[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return out


def _last_return(func):
    """Source text of the final top-level `return` expression of func."""
    for stmt in reversed(func.body):
        if isinstance(stmt, ast.Return):
            return None if stmt.value is None else _unparse(stmt.value)
    return None


def _norm_default(text):
    if text is None:
        return None
    try:
        val = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(val, float):
        return repr(val)
    return repr(val)


def _classify_accessor(src):
    """Return a kind tuple for a field accessor method source."""
    if "self._tab.Union(" in src:
        return ("union",)
    if "self._tab.Vector(" in src:
        m = re.search(r"self\._tab\.Get\(" + FLAGS_RE + r",\s*a\s*\+", src)
        if m:
            return ("vector", "scalar", m.group(1))
        if re.search(r"self\._tab\.String\(\s*a\s*\+", src):
            return ("vector", "string")
        m = re.search(r"obj\s*=\s*(\w+)\(\)", src)
        if m:
            if "self._tab.Indirect(" in src:
                return ("vector", "table", m.group(1))
            return ("vector", "struct", m.group(1))
        return ("vector", "unknown")
    if "self._tab.String(" in src:
        return ("string",)
    m = re.search(r"obj\s*=\s*(\w+)\(\)", src)
    if m:
        if "self._tab.Indirect(" in src:
            return ("table", m.group(1))
        return ("struct", m.group(1))
    m = re.search(r"self\._tab\.Get\(" + FLAGS_RE, src)
    if m:
        return ("scalar", m.group(1))
    return ("unknown",)


def _method_name(func):
    return func.name


class Facts(object):
    def __init__(self):
        self.enums = {}     # name -> {member: value}
        self.unions = {}    # name -> {member: value}
        self.tables = {}    # name -> {"nslots": int|None, "fields": {...}}
        self.structs = {}   # name -> {"fields": {...}}

    def to_json(self):
        return {"enums": self.enums, "unions": self.unions,
                "tables": self.tables, "structs": self.structs}


def extract_facts(py_files):
    """Extract facts from a list of flatc-generated Python source files."""
    modules = []
    for path in py_files:
        with open(path, "r", encoding="utf-8") as fh:
            src = fh.read()
        try:
            modules.append((path, ast.parse(src, filename=path)))
        except SyntaxError as exc:
            raise RuntimeError("cannot parse %s: %s" % (path, exc))

    classes = {}      # name -> ClassDef
    functions = {}    # module-level function name -> FunctionDef
    for path, mod in modules:
        for node in mod.body:
            if isinstance(node, ast.ClassDef):
                if node.name in classes and _unparse(classes[node.name]) != _unparse(node):
                    raise RuntimeError("class %s defined twice differently" % node.name)
                classes[node.name] = node
            elif isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, node)

    facts = Facts()

    # Enums and unions.  A union is an enum-like class with a `<Name>Creator`
    # helper (object API) or whose name is used as a union field type.
    union_names = set()
    for fname in functions:
        if fname.endswith("Creator") and fname[:-len("Creator")] in classes:
            union_names.add(fname[:-len("Creator")])

    for name, cls in classes.items():
        if _is_enum_class(cls):
            members = _enum_members(cls)
            if name in union_names:
                facts.unions[name] = members
            else:
                facts.enums[name] = members

    # Tables and structs: classes with an Init(self, buf, pos) method that
    # builds a flatbuffers.table.Table.  Object-API `...T` classes are used
    # only for defaults / union types.
    for name, cls in classes.items():
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        init = methods.get("Init")
        if init is None or "flatbuffers.table.Table" not in _unparse(init):
            continue
        body_src = _unparse(cls)
        is_table = "self._tab.Offset(" in body_src or ("%sStart" % name) in functions
        is_struct = not is_table and ("Create%s" % name in functions)
        if not is_table and not is_struct:
            # Empty table: no fields, but still has a Start function.
            is_table = True

        tcls = classes.get(name + "T")
        init_defaults = {}
        union_of_field = {}
        if tcls is not None:
            for f in tcls.body:
                if isinstance(f, ast.FunctionDef) and f.name == "__init__":
                    args = f.args.args[1:]
                    defs = f.args.defaults
                    pad = [None] * (len(args) - len(defs))
                    for a, d in zip(args, pad + list(defs)):
                        init_defaults[a.arg] = None if d is None else _norm_default(_unparse(d))
                    # Older flatc sets defaults in the body: `self.x = 0`.
                    for st in f.body:
                        if (isinstance(st, ast.Assign) and len(st.targets) == 1
                                and isinstance(st.targets[0], ast.Attribute)
                                and isinstance(st.targets[0].value, ast.Name)
                                and st.targets[0].value.id == "self"):
                            attr = st.targets[0].attr
                            if attr not in init_defaults:
                                val = st.value
                                if isinstance(val, ast.Name) and val.id == attr:
                                    continue  # newer flatc: `self.x = x`
                                init_defaults[attr] = _norm_default(_unparse(val))
            for node in ast.walk(tcls):
                # `XCreator(...)` (single file) or `pkg.X.XCreator(...)` (per-type files)
                if not (isinstance(node, ast.Call) and len(node.args) == 2):
                    continue
                if isinstance(node.func, ast.Name):
                    cname = node.func.id
                elif isinstance(node.func, ast.Attribute):
                    cname = node.func.attr
                else:
                    continue
                if not cname.endswith("Creator"):
                    continue
                arg = node.args[1]
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
                    union_of_field[arg.func.attr] = cname[:-len("Creator")]

        if is_table:
            by_offset = {}
            for mname, func in methods.items():
                if mname in ("Init",) or mname.startswith("GetRootAs"):
                    continue
                src = _unparse(func)
                offs = set(OFFSET_RE.findall(src))
                if len(offs) != 1:
                    continue
                by_offset.setdefault(int(offs.pop()), []).append(func)
            fields = {}
            for off, funcs in sorted(by_offset.items()):
                prim = min(funcs, key=lambda f: (len(f.name), f.name))
                src = _unparse(prim)
                kind = _classify_accessor(src)
                if kind == ("union",):
                    kind = ("union", union_of_field.get(prim.name, "?"))
                info = {
                    "slot": (off - 4) // 2 if off % 2 == 0 and off >= 4 else "bad-offset-%d" % off,
                    "kind": list(kind),
                    "default": _norm_default(_last_return(prim)),
                }
                # object-API default (camelCase of field name)
                camel = prim.name[:1].lower() + prim.name[1:]
                if camel in init_defaults:
                    info["init_default"] = init_defaults[camel]
                # builder: Add<Field>(builder, x) -> Prepend<T>Slot(slot, x, default)
                add = functions.get("%sAdd%s" % (name, prim.name))
                if add is not None:
                    m = re.search(r"Prepend(\w+)Slot\((\d+),\s*[^,]+,\s*(.+)\)\s*$",
                                  _unparse(add).strip().splitlines()[-1])
                    if m:
                        info["builder"] = [m.group(1), int(m.group(2)), _norm_default(m.group(3))]
                    else:
                        info["builder"] = ["?"]
                else:
                    info["builder"] = None
                # vector element size / alignment (force_align)
                sv = functions.get("%sStart%sVector" % (name, prim.name))
                if sv is not None:
                    m = re.search(r"StartVector\((\d+),\s*\w+,\s*(\d+)\)", _unparse(sv))
                    info["vector_layout"] = [int(m.group(1)), int(m.group(2))] if m else "?"
                fields[prim.name] = info
            nslots = None
            start = functions.get("%sStart" % name)
            if start is not None:
                m = re.search(r"StartObject\((\d+)\)", _unparse(start))
                if m:
                    nslots = int(m.group(1))
            facts.tables[name] = {"nslots": nslots, "fields": fields}
        else:
            fields = {}
            for mname, func in methods.items():
                if mname == "Init" or mname.startswith("GetRootAs") or mname == "SizeOf":
                    continue
                src = _unparse(func)
                m = re.search(r"self\._tab\.Pos\s*\+\s*flatbuffers\.number_types\.UOffsetTFlags\.py_type\((\d+)\)", src)
                if not m:
                    continue
                kind = _classify_accessor(src)
                fields[mname] = {"offset": int(m.group(1)), "kind": list(kind)}
            size = None
            if "SizeOf" in methods:
                r = _last_return(methods["SizeOf"])
                size = r
            facts.structs[name] = {"size": size, "fields": fields}

    return facts


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------

def _fmt(v):
    if v is None:
        return "<missing>"
    if isinstance(v, (list, tuple)):
        return "(" + ",".join(str(x) for x in v) + ")"
    return str(v)


def compare(ours, theirs):
    diffs = []

    def diff(kind, name, ov, tv):
        diffs.append("DIFF %s %s: ours=%s theirs=%s" % (kind, name, _fmt(ov), _fmt(tv)))

    for cat, label in (("enums", "enum"), ("unions", "union")):
        o_all, t_all = getattr(ours, cat), getattr(theirs, cat)
        for name in sorted(set(o_all) | set(t_all)):
            if name not in o_all:
                diff(label, name, None, "present")
                continue
            if name not in t_all:
                diff(label, name, "present", None)
                continue
            om, tm = o_all[name], t_all[name]
            for mem in sorted(set(om) | set(tm), key=lambda k: (tm.get(k, om.get(k)), k)):
                if om.get(mem) != tm.get(mem):
                    diff(label, "%s.%s" % (name, mem), om.get(mem), tm.get(mem))

    for name in sorted(set(ours.tables) | set(theirs.tables)):
        if name not in ours.tables:
            diff("table", name, None, "present")
            continue
        if name not in theirs.tables:
            diff("table", name, "present", None)
            continue
        ot, tt = ours.tables[name], theirs.tables[name]
        if ot["nslots"] != tt["nslots"]:
            diff("table", "%s.<vtable_slots>" % name, ot["nslots"], tt["nslots"])
        of, tf = ot["fields"], tt["fields"]
        for fld in sorted(set(of) | set(tf),
                          key=lambda k: (str(tf.get(k, of.get(k))["slot"]), k)):
            qn = "%s.%s" % (name, fld)
            if fld not in of:
                diff("field", qn, None, "slot=%s %s" % (tf[fld]["slot"], _fmt(tf[fld]["kind"])))
                continue
            if fld not in tf:
                diff("field", qn, "slot=%s %s" % (of[fld]["slot"], _fmt(of[fld]["kind"])), None)
                continue
            o, t = of[fld], tf[fld]
            for key, label in (("slot", "slot"), ("kind", "type"), ("default", "default"),
                               ("init_default", "objapi-default"), ("builder", "builder"),
                               ("vector_layout", "vector-layout")):
                if o.get(key) != t.get(key):
                    diff(label, qn, o.get(key), t.get(key))

    for name in sorted(set(ours.structs) | set(theirs.structs)):
        if name not in ours.structs:
            diff("struct", name, None, "present")
            continue
        if name not in theirs.structs:
            diff("struct", name, "present", None)
            continue
        os_, ts = ours.structs[name], theirs.structs[name]
        if os_["size"] != ts["size"]:
            diff("struct", "%s.<size>" % name, os_["size"], ts["size"])
        of, tf = os_["fields"], ts["fields"]
        for fld in sorted(set(of) | set(tf)):
            qn = "%s.%s" % (name, fld)
            if of.get(fld) != tf.get(fld):
                diff("struct-field", qn, of.get(fld) and (of[fld]["offset"], _fmt(of[fld]["kind"])),
                     tf.get(fld) and (tf[fld]["offset"], _fmt(tf[fld]["kind"])))

    # A (table/struct) name used as an enum on one side and a table on the
    # other would already show as missing entries on both sides.
    return diffs


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def wheel_schema_path():
    import ai_edge_litert  # noqa: F401  (located via the venv)
    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "schema_py_generated.py")
    if not os.path.isfile(path):
        raise RuntimeError("wheel schema not found at %s" % path)
    return path


def generate_ours(fbs, flatc, outdir):
    cmd = [flatc, "--python", "--gen-object-api", "-o", outdir, fbs]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise RuntimeError("flatc failed (%d): %s\n%s" % (proc.returncode, " ".join(cmd), out))
    if out:
        sys.stderr.write("flatc: %s\n" % out)
    files = []
    for root, _dirs, names in os.walk(outdir):
        for n in sorted(names):
            if n.endswith(".py") and n != "__init__.py":
                files.append(os.path.join(root, n))
    if not files:
        raise RuntimeError("flatc produced no Python files in %s" % outdir)
    return sorted(files)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fbs", required=True, help="path to our tflite.fbs")
    ap.add_argument("--flatc", required=True, help="path to the flatc binary")
    ap.add_argument("--theirs", help="override path to the wheel's schema_py_generated.py")
    ap.add_argument("--dump", choices=("ours", "theirs"),
                    help="print the extracted facts as JSON instead of comparing")
    args = ap.parse_args(argv)

    try:
        theirs_path = args.theirs or wheel_schema_path()
        theirs = extract_facts([theirs_path])
        with tempfile.TemporaryDirectory(prefix="tflite_schema_check_") as tmp:
            ours = extract_facts(generate_ours(os.path.abspath(args.fbs), args.flatc, tmp))
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write("error: %s\n" % exc)
        return 2

    if args.dump:
        print(json.dumps((ours if args.dump == "ours" else theirs).to_json(), indent=1, sort_keys=True))
        return 0

    if not theirs.enums or not theirs.tables:
        sys.stderr.write("error: extracted no enums/tables from %s\n" % theirs_path)
        return 2

    diffs = compare(ours, theirs)
    for line in diffs:
        print(line)
    n_enums = len(set(ours.enums) | set(theirs.enums))
    n_unions = len(set(ours.unions) | set(theirs.unions))
    n_tables = len(set(ours.tables) | set(theirs.tables)) + len(set(ours.structs) | set(theirs.structs))
    print("schema: %d enums, %d unions, %d tables compared, %d differences"
          % (n_enums, n_unions, n_tables, len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
