"""The stack, sized at build time (kiln.stackbound): the bound over a call
graph compiled by the real cross compiler, its refusals (recursion, variable
frames), and, on the emulated board, the deepest stack the firmware really
reaches (painted at reset, reported by INFO) within the bound it was given,
and the stack limit (MSPLIM): an overflow faults, resets the board, and INFO
reports it after the reset."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from kiln import ROOT, bench, boards, debug, paths, registry, stackbound
from kiln import firmware as fw
from kiln.errors import KilnError
from support import have, run_scons, variant_path

pytestmark = pytest.mark.skipif(not have("arm-none-eabi-gcc"),
                                reason="arm-none-eabi-gcc missing (toolchain/setup)")

VECTORS = """
void Reset_Handler(void); void Tick_Handler(void);
__attribute__((section(".vectors"), used)) void (*const vectors[])(void) = {Reset_Handler, Tick_Handler};
"""


def _objects(tmp_path: Path, sources: dict[str, str]) -> list[Path]:
    objs = []
    for name, text in sources.items():
        src = tmp_path / f"{name}.c"
        src.write_text(text)
        obj = tmp_path / f"{name}.o"
        subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m33", "-mthumb", "-O2", "-ffunction-sections",
                        "-fstack-usage", "-c", str(src), "-o", str(obj)], check=True)
        objs.append(obj)
    return objs


def _frame(obj: Path, name: str) -> int:
    line = next(x for x in obj.with_suffix(".su").read_text().splitlines() if f":{name}\t" in x)
    return int(line.split("\t")[1])


def test_bound_is_the_deepest_path_plus_each_handler(tmp_path) -> None:
    objs = _objects(tmp_path, {
        "vectors": VECTORS,
        "main": """
            void leaf_big(volatile char *p); void leaf_small(volatile char *p); void tick_work(void);
            __attribute__((noinline)) void deep(void) { volatile char b[200]; leaf_big(b); }
            __attribute__((noinline)) void shallow(void) { volatile char b[8]; leaf_small(b); }
            void Reset_Handler(void) { deep(); shallow(); for (;;) {} }
            void Tick_Handler(void) { tick_work(); }
        """,
        "leaves": """
            #include <string.h>
            void leaf_big(volatile char *p) { volatile char b[300]; b[0] = p[0]; }
            void leaf_small(volatile char *p) { p[0] = 1; }
            volatile unsigned n = 40;
            void tick_work(void) { char t[40]; memset(t, 0, n); __asm volatile("" :: "r"(t) : "memory"); }
        """,
    })
    main, leaves = objs[1], objs[2]
    rep = stackbound.bound(objs)
    thread = _frame(main, "Reset_Handler") + _frame(main, "deep") + _frame(leaves, "leaf_big")
    tick = _frame(main, "Tick_Handler") + _frame(leaves, "tick_work") + stackbound.LIBRARY_FRAME
    assert rep.path == ["Reset_Handler", "deep", "leaf_big"]
    assert rep.handlers == {"Tick_Handler": tick + stackbound.EXCEPTION_FRAME}
    assert rep.library == {"memset"}
    assert rep.bytes == (thread + tick + stackbound.EXCEPTION_FRAME + 7) // 8 * 8


def test_indirect_calls_reach_every_function_whose_address_is_taken(tmp_path) -> None:
    objs = _objects(tmp_path, {
        "vectors": VECTORS,
        "main": """
            typedef void (*fn_t)(void);
            static void big(void) { volatile char b[500]; b[0] = 0; }
            static void small(void) { volatile char b[4]; b[0] = 0; }
            fn_t table[2] = {small, big};
            volatile int pick;
            void Reset_Handler(void) { table[pick](); for (;;) {} }
            void Tick_Handler(void) {}
        """,
    })
    rep = stackbound.bound(objs)
    assert rep.path == ["Reset_Handler", "big"]
    assert rep.bytes >= 500


@pytest.mark.parametrize("body, why", [
    ("int f(volatile int *p, int n) { if (n > 0) { f(p, n - 1); f(p, n - 2); } return *p; }"
     " volatile int v; void Reset_Handler(void) { f(&v, 5); }", "recursive"),
    ("void g(volatile char *p); void Reset_Handler(void) { volatile int n = 9; char b[n]; g(b); }",
     "variable-size stack frame"),
])
def test_unboundable_stacks_are_refused(tmp_path, body: str, why: str) -> None:
    objs = _objects(tmp_path, {"vectors": VECTORS, "main": body + " void Tick_Handler(void) {}"})
    with pytest.raises(KilnError, match=why):
        stackbound.bound(objs)


@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm"), reason="qemu-system-arm missing (toolchain/setup)")
def test_firmware_stack_stays_within_its_bound_on_the_emulated_board() -> None:
    """cifar_cnn on the dsp kernels: the stack reserved is the build's bound,
    far below the board's 16 KB ceiling, and an INFER (every layer's kernel)
    uses less than it."""
    from host import cycles
    from host.client import Client
    from host.qemu import Qemu

    board = bench.board_for("")
    variant_path("cifar_cnn", "ptq")
    elf = paths.firmware_elf(board.name, "cifar_cnn", "ptq", "dsp")
    run_scons(f"BOARD={board.name}", str(elf.relative_to(ROOT)))
    bound = json.loads((elf.parent / "stack.json").read_text())
    with Qemu.for_board(board, elf) as q, Client(q.port) as client:
        model = client.info()["model"]
        out_bytes = sum(t["bytes"] for t in model["outputs"])
        list(client.infer_stream([(0, cycles.random_input(model))], out_bytes))
        info = client.info()
    assert info["stack_reserved"] == bound["stack_bytes"] < board.stack_bytes // 4
    assert 0 < info["stack_used"] <= info["stack_reserved"]


GDB = next((g for g in debug.GDB_NAMES if have(g)), None)


@pytest.mark.skipif(not have("qemu-system-arm"), reason="qemu-system-arm missing (toolchain/setup)")
@pytest.mark.skipif(GDB is None, reason="no gdb-multiarch or arm-none-eabi-gdb (toolchain/setup)")
def test_stack_overflow_faults_resets_and_is_reported_after_the_reset() -> None:
    """On the emulated Cortex-M33 (QEMU implements the Armv8-M stack limit),
    running and answering: gdb moves SP to the stack's bottom, as an overflow
    would leave it; the next push (the next interrupt's stacking at the latest)
    crosses MSPLIM, the UsageFault (STKOF, escalated to HardFault) records the
    fault and resets, the rebooted firmware answers, INFO's last_fault names
    the overflow, and the host's resync counts the reset and says why."""
    from host import protocol as p
    from host.client import Client
    from host.qemu import Qemu, free_tcp_port

    board = boards.load("mps2_an505")  # the emulated M33: only Armv8-M Mainline has MSPLIM
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(board.cpu))
    elf = paths.firmware_elf(board.name, registry.DEFAULT_NET, "ptq", kernels)
    run_scons(f"BOARD={board.name}", "MODEL=ptq", str(elf.relative_to(ROOT)))
    port = free_tcp_port()
    events: list[tuple[str, str]] = []
    with Qemu.for_board(board, elf, extra=["-gdb", f"tcp:127.0.0.1:{port}"]) as q, \
            Client(q.port, on_event=lambda kind, detail: events.append((kind, detail))) as client:
        info = client.info()
        assert info["last_fault"] is None
        model = info["model"]
        list(client.infer_stream([(0, bytes(p.io_bytes(model, "inputs")))], p.io_bytes(model, "outputs")))
        gdb = subprocess.run([GDB, "-nx", "-batch", str(elf), "-ex", f"target remote localhost:{port}",
                              "-ex", "set $sp = (unsigned)&__stack_bottom", "-ex", "detach"],
                             capture_output=True, text=True, timeout=120)
        assert gdb.returncode == 0, gdb.stdout + gdb.stderr
        client.resync()  # what the host does when an answer goes missing
        assert client.stats.resets == 1
        assert events[-1][0] == "reset" and "after the stack overflowed" in events[-1][1], events
        info = client.info()
    fault = info["last_fault"]
    assert fault["code"] == "stack_overflow"
    assert fault["cfsr"] & p.CFSR_STKOF  # UFSR.STKOF
    assert fault["exception"] == 3 and fault["hfsr"] & (1 << 30)  # UsageFault off: escalated (FORCED)
    assert 0 < info["stack_used"] <= info["stack_reserved"]  # the new boot painted its stack afresh
