"""Code generation, part 2: block-level statements (barriers, and branches and loops that hold one),
lane regions, and the numba function around them (see pramsim/engines/compiled/__init__.py)."""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ...cost import BANKS, WARP_LANES
from ...errors import Loc
from ...lang import ir
from .analysis import Unsupported, _has, _names, _reads, _uniform_expr
from .lanes import _ERR_DIVERGENT, _LANE_STATE, LaneCode
from .support import CAPACITY


class KernelCode(LaneCode):
    """One kernel rendered to the source of one numba function (record=True: the recording variant)."""

    # -- block level --
    def lane_region(self, stmts: tuple[ir.Stmt, ...]) -> None:
        if not any(not isinstance(s, ir.AllocArray) for s in stmts):
            return
        read, written = _names(stmts)
        here = _reads(stmts)
        # Between regions a variable lives in VI/VF: store what another region may read (or this
        # one, in the next trip of a block-level loop); load what this region reads or must keep.
        store = sorted(v for v in written & self.lane_vars
                       if self.total_reads[v] > here[v] or v in self.always_store or (self.loops and v in read))
        load = sorted((read | set(store)) & self.lane_vars)
        returns = any(_has(st, ir.Return) for st in stmts)
        if returns:  # lanes may stop here: charge them what ran for all before, count again after
            self.emit("_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)")
        self.emit("for t in range(nb):")
        self.ind += 1
        warp_end = len(self.lines)  # a warp's recorded accesses are counted when it ends
        sites = self.access_sites
        self.emit("if ex[t]:")
        self.emit("    continue")
        outer, self.lines = self.lines, []
        self.used = {"st"}
        self.lane_stmts(stmts)
        body, self.lines = self.lines, outer
        recorded = self.record and self.access_sites > sites
        if recorded:
            self.lines.insert(warp_end, "    " * self.ind + f"if t > 0 and t % {WARP_LANES} == 0:")
            self.lines.insert(warp_end + 1, "    " * self.ind + f"    _warp_end(BK, BW, BN, SP, SK, BS, WS, {sites}, {self.access_sites})")
        state = [(arr, local) for arr, local in _LANE_STATE if local in self.used]  # counters this region moves
        self.emit("; ".join(f"{local} = {arr}" for arr, local in state) + "; exl = False")
        self.emit("st0 = st; _g = _b0 + t" + ("; fl0 = fl" if "fl" in self.used else ""))
        for v in load:
            self.emit(f"u_{v} = {self.slot(v)}")
        self.lines += body
        self.emit("_bw += st - st0" + ("; _bfl += fl - fl0" if "fl" in self.used else ""))
        self.emit("; ".join(f"{arr} = {local}" for arr, local in state))
        self.emit("if exl:")
        self.emit("    ex[t] = True")
        for v in store:
            self.emit(f"{self.slot(v)} = u_{v}")
        self.ind -= 1
        if recorded:
            self.emit(f"_warp_end(BK, BW, BN, SP, SK, BS, WS, {sites}, {self.access_sites})")
        if returns:
            self.emit("_nr = _running(ex, nb)")
        self.emit("if _err[0] != 0:")
        self.emit("    return _diff")

    def block_stmts(self, stmts: tuple[ir.Stmt, ...]) -> None:
        run: list[ir.Stmt] = []
        for s in stmts:
            if not _has(s, ir.Barrier) and not (isinstance(s, ir.Assign) and s.target in self.uniform_vars):
                run.append(s)
                continue
            self.lane_region(tuple(run))
            run = []
            self.block_stmt(s)
        self.lane_region(tuple(run))

    def uniform(self, cond: ir.Expr, loc: Loc) -> None:
        """Evaluate cond per running lane into _na/_nt (lanes running / lanes where it holds)."""
        if _uniform_expr(cond, lambda v: v not in self.lane_vars):
            self.emit("_na = _nr; _nt = 0")
            self.once(lambda: self.emit(f"_nt = _na if {self.expr(cond)} else 0"))
            return
        name = f"__cond{self.tmp + 1}"
        self.tmp += 1
        self.kinds.vars[name] = self.kinds.of(cond)
        self.lane_vars.add(name)
        self.always_store.add(name)
        self.lane_region((ir.Assign(loc, name, cond),))
        self.emit("_na = 0; _nt = 0")
        self.emit("for t in range(nb):")
        self.emit("    if not ex[t]:")
        self.emit("        _na += 1")
        self.emit(f"        if {self.slot(name)}:")
        self.emit("            _nt += 1")
        self.emit("if _nt != 0 and _nt != _na:")
        self.ind += 1
        self.fail(_ERR_DIVERGENT, loc, "b")
        self.emit("return _diff")
        self.ind -= 1

    def once(self, render: Any) -> Any:
        """Generate block-level code that runs once for the whole block (uniform values)."""
        self.uniform_ctx = True
        self.emit("_g = _b0")
        self.emit("if _nr > 0:")  # a block whose lanes all returned runs nothing, as in the executor
        self.ind += 1
        try:
            result = render()
            self.flush()
        finally:
            self.uniform_ctx = False
            self.ind -= 1
        self.emit("if _err[0] != 0:")
        self.emit("    return _diff")
        return result

    def block_stmt(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):  # a uniform variable
            self.once(lambda: self.emit(f"w_{s.target} = {self.expr(s.value)}"))
        elif isinstance(s, ir.Barrier):
            self.emit("_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)")
            self.emit("_diff, _rs = _barrier(_diff, LS, nb, _rs)")
            self.emit("_nbar += 1")
        elif isinstance(s, ir.If):
            self.uniform(s.cond, s.loc)
            self.emit("if _nt > 0:")
            self.ind += 1
            self.block_stmts(s.body)
            self.emit("pass")
            self.ind -= 1
            if s.orelse:
                self.emit("elif _na > 0:")
                self.ind += 1
                self.block_stmts(s.orelse)
                self.emit("pass")
                self.ind -= 1
        elif isinstance(s, (ir.While, ir.For)) and any(ir.loop_jumps(s.body)):
            # Not generated yet: a block-level loop would need its lanes' break/continue checked
            # for divergence (as the vector engine's barrier does) and its lanes masked.
            raise Unsupported("break or continue in a loop that holds a barrier")
        elif isinstance(s, ir.While):
            counter = self.fresh("it")
            self.emit(f"{counter} = 0")
            self.emit("while True:")
            self.ind += 1
            self.loops += 1
            self.uniform(s.cond, s.loc)
            self.emit("if _nt == 0:")
            self.emit("    break")
            self.iteration_cap(counter, s.loc, "_b0", "return _diff")
            self.block_stmts(s.body)
            self.loops -= 1
            self.ind -= 1
        elif isinstance(s, ir.For):
            if s.step == 0:
                raise Unsupported("a range with step 0")
            stop = f"__stop{self.tmp + 1}"
            self.tmp += 1
            self.kinds.vars[stop] = self.kinds.of(s.stop)
            if s.var in self.uniform_vars:
                self.uniform_vars.add(stop)
                self.block_stmts((ir.Assign(s.loc, s.var, s.start), ir.Assign(s.loc, stop, s.stop)))
            else:
                self.lane_vars.add(stop)
                self.always_store |= {stop, s.var}
                self.lane_region((ir.Assign(s.loc, s.var, s.start), ir.Assign(s.loc, stop, s.stop)))
            var = ir.Var(s.loc, s.var)
            cond = ir.Compare(s.loc, "<" if s.step > 0 else ">", var, ir.Var(s.loc, stop))
            step = ir.Assign(s.loc, s.var, ir.BinOp(s.loc, "+", var, ir.Const(s.loc, s.step)))
            self.block_stmt(ir.While(s.loc, cond, (*s.body, step)))
        else:
            raise Unsupported(f"statement {type(s).__name__} holding a barrier")

    def weighted(self, level: str) -> str:
        """This block's bytes moved at `level`: the chunks' run counts times their bytes."""
        terms = [f"_k{j} * {n}" for j, c in enumerate(self.chunks)
                 if (n := c[("bytes", level, "read")] + c[("bytes", level, "write")])]
        return " + ".join(terms) or "0"

    # -- the function --
    def render(self, fn_name: str) -> str:
        body_lines: list[str] = []
        self.lines, saved = body_lines, self.lines
        self.ind = 2
        self.block_stmts(self.k.body)
        self.lines = saved
        head = ["@numba.njit(nogil=True, cache=True, error_model='numpy')",
                f"def {fn_name}(_blo, _bhi, _P, _B, _NB, "
                + "".join(f"A_{n}, " for n in self.array_params)
                + "".join(f"p_{n}, " for n in self.scalars)
                + "_K, _cls, _bstat, _diff, _err, _BR, _Z):",
                f"    # from kernel {self.k.name} at {self.k.loc}"]
        for v in sorted(self.lane_vars):
            self.slot(v)
        rows = Counter(table for table, _ in self.slots.values())
        pre = ["LS = np.zeros((_B, 4), np.int64); ex = np.zeros(_B, np.bool_)",
               f"VI = np.zeros((_B, {rows['VI']}), np.int64); VF = np.zeros((_B, {rows['VF']}), np.float64)"]
        for name, s in self.allocs.items():
            shape = self.alloc_shapes[name]
            if s.space == "shared":
                pre.append(f"S_{name} = np.zeros({int(np.prod(shape))}, np.{s.dtype})")
            else:
                pre.append(f"L_{name} = np.zeros((_B, {', '.join(map(str, shape))}), np.{s.dtype})")
        init = {"b": "False", "i": "0", "f": "0.0"}
        pre += [f"w_{v} = {init[self.kinds.vars.get(v, 'b')]}" for v in sorted(self.uniform_vars)]
        pre += [f"_k{j} = 0" for j in range(len(self.chunks))]
        sites = max(1, self.access_sites)
        if self.record:  # the recording buffers (see _warp_end)
            pre += [f"BK = np.zeros({sites * CAPACITY * WARP_LANES}, np.int64); BW = np.zeros_like(BK)",
                    f"BN = np.zeros(({sites}, {WARP_LANES}), np.int64)",
                    f"BS = np.zeros(({BANKS + 1}, {2 * WARP_LANES + 1}), np.int64)",
                    f"SP = np.array({self.access_spans or [1]}, np.int64)"]
        pre += [f"WS = np.zeros({sites}, np.int64); BA = np.zeros({sites}, np.int64)",
                f"SK = np.array({self.access_kinds or [0]}, np.int64)"]  # what each site counts
        pre += ["_nbarmax = 0; _flmax = 0; _hbmax = 0; _srmax = 0; _nr = 0; _na = 0; _nt = 0; _g = 0",
                "_ust = 0; _ufl = 0",
                "for b in range(_blo, _bhi):"]
        per_block = ["_b0 = b * _B", "nb = min(_B, _P - _b0)",
                     "LS[:] = 0; ex[:] = False; VI[:] = 0; VF[:] = 0; _nr = nb",
                     "_rs = 0; _bw = 0; _bfl = 0; _nbar = 0"]
        per_block += [f"w_{v} = {init[self.kinds.vars.get(v, 'b')]}" for v in sorted(self.uniform_vars)]
        for v in sorted(self.assigned_params):
            if v in self.uniform_vars:
                per_block.append(f"w_{v} = p_{v}")
            else:
                table, row = self.slots[v]
                per_block.append(f"{table}[:, {row}] = p_{v}")
        per_block += [f"S_{n}[:] = 0" if s.space == "shared" else f"L_{n}[:] = 0" for n, s in self.allocs.items()]
        post = ["_ust, _ufl = _apply(LS, ex, nb, _ust, _ufl)",
                "_diff = _flush_profile(_diff, LS[:, 0], nb, _rs)",
                "_bstat[b, 0] = _bw; _bstat[b, 1] = LS[:nb, 0].max(); _bstat[b, 3] = _bfl",
                *(f"BA[{site}] = _k{j}" for j, c in enumerate(self.chunks) for key in c
                  if key[0] == "site" for site in [key[1]]),
                f"_bstat[b, 5], _bstat[b, 6] = _block_transactions(WS, BA, SK, {self.record}, "
                "0 if b == 0 else 1 if b == _NB - 1 else -1, _BR)",
                f"_bstat[b, 2] = {self.weighted('hbm')}; _bstat[b, 4] = {self.weighted('sram')}",
                *(f"_K[{j}] += _k{j}; _k{j} = 0" for j in range(len(self.chunks))),
                "_flmax = max(_flmax, LS[:nb, 1].max()); _hbmax = max(_hbmax, LS[:nb, 2].max())",
                "_srmax = max(_srmax, LS[:nb, 3].max()); _nbarmax = max(_nbarmax, _nbar)"]
        tail = ["_cls[0] = max(_cls[0], _flmax); _cls[1] = max(_cls[1], _hbmax)",
                 "_cls[2] = max(_cls[2], _srmax); _cls[3] = max(_cls[3], _nbarmax)", "return _diff"]
        lines = head + ["    " + x for x in pre] + ["        " + x for x in per_block] + body_lines
        lines += ["        " + x for x in post] + ["    " + x for x in tail]
        return "\n".join(lines) + "\n"


