//! Generation of the C++ shim and the makefile that turn a Verilated model into a shared
//! library with a small `extern "C"` ABI.
//!
//! # The ABI (all functions `extern "C"`, exported with default visibility)
//!
//! | symbol | signature | meaning |
//! | --- | --- | --- |
//! | `moca_sim_abi_version` | `uint32_t ()` | [`ABI_VERSION`] |
//! | `moca_sim_build_id` | `const char* ()` | the cache hash of this build |
//! | `moca_sim_num_ports` | `uint32_t ()` | number of ports, in header order |
//! | `moca_sim_port_width` | `uint32_t (uint32_t i)` | width of port `i` in bits |
//! | `moca_sim_port_storage_bytes` | `uint32_t (uint32_t i)` | `sizeof` of Verilator's storage of port `i` |
//! | `moca_sim_create` | `void* ()` | new context + model, or null |
//! | `moca_sim_destroy` | `void (void*)` | `final()` (if not done), close trace, free |
//! | `moca_sim_port_ptr` | `void* (void*, uint32_t i)` | address of Verilator's storage of port `i` |
//! | `moca_sim_set_u64` / `moca_sim_get_u64` | `(void*, uint32_t i, uint64_t)` / `uint64_t (void*, uint32_t i)` | low 64 bits, masked to the width |
//! | `moca_sim_set_words` / `moca_sim_get_words` | `(void*, uint32_t i, uint32_t* w, uint32_t n)` | 32-bit words, least significant first |
//! | `moca_sim_eval` | `void (void*)` | `eval()` |
//! | `moca_sim_final` | `void (void*)` | `final()` once |
//! | `moca_sim_got_finish` | `int32_t (void*)` | `$finish` or `$stop` was executed (sticky; Verilator's flag is cleared after each eval so a second `$finish` does not exit the process) |
//! | `moca_sim_trace_open` | `int32_t (void*, const char*)` | 0 ok, -1 built without trace, -2 not opened, -3 C++ exception |
//! | `moca_sim_trace_dump` | `void (void*, uint64_t time)` | dump one VCD time step if open |
//! | `moca_sim_trace_close` | `void (void*)` | close the VCD file |
//! | `moca_sim_trace_error` | `int32_t (void*)` | `errno` of the first failed VCD write or close since the last open, 0 if none |
//!
//! The VCD is written through the shim's own `VerilatedVcdFile`, which never reports a failed
//! write to Verilator: Verilator 5.006's error path (`bufferFlush` -> `vl_fatal` -> `flush`)
//! deadlocks on its own mutex, so a full disk would hang the process. The shim keeps the first
//! `errno`, drops the rest of the waveform and lets the caller report it.
//!
//! Storage sizes follow Verilator: 1 byte up to 8 bits, 2 up to 16, 4 up to 32, 8 up to 64,
//! then `4 * ceil(width / 32)` bytes of 32-bit words, least significant word first.

use crate::ports::Port;
use std::fmt::Write;

/// Version of the shim ABI; part of the cache hash.
pub const ABI_VERSION: u32 = 2;

/// Name of the shared library inside a cache entry.
pub(crate) const LIB_NAME: &str = "libmoca_model.so";

/// Bytes of Verilator's storage for a port of `width` bits.
pub(crate) fn storage_bytes(width: u32) -> u32 {
    match width {
        0..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        33..=64 => 8,
        w => 4 * w.div_ceil(32),
    }
}

/// The name Verilator gives a Verilog identifier in C++ (before keyword escaping): `$` becomes
/// `__024`, a `_` followed by `_` becomes `___05F`, other non-alphanumerics `__0XX`.
pub(crate) fn verilator_encode(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (i == 0 && c.is_ascii_alphabetic()) || (i > 0 && c.is_ascii_alphanumeric()) {
            out.push(char::from(c));
        } else if c == b'_' {
            if b.get(i + 1) == Some(&b'_') {
                out.push_str("___05F");
                i += 1;
            } else {
                out.push('_');
            }
        } else {
            let _ = write!(out, "__0{c:02X}");
        }
        i += 1;
    }
    out
}

/// The C++ member names of the ports, read from the generated model header `header`
/// (`VL_IN8(&name,0,0);` ...). Verilator escapes names that are C++ keywords (`__SYM__`), so
/// each port's encoded name is looked up with and without that prefix.
pub(crate) fn cxx_port_names(header: &str, ports: &[Port]) -> Result<Vec<String>, String> {
    let declared: Vec<&str> = header
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("VL_IN") || l.starts_with("VL_OUT"))
        .filter_map(|l| l.split_once("(&").and_then(|(_, r)| r.split(',').next()))
        .collect();
    ports
        .iter()
        .map(|p| {
            let enc = verilator_encode(&p.name);
            let sym = format!("__SYM__{enc}");
            if declared.contains(&enc.as_str()) {
                Ok(enc)
            } else if declared.contains(&sym.as_str()) {
                Ok(sym)
            } else {
                Err(format!(
                    "port `{}` (C++ `{enc}`) not found among the model's ports: {}",
                    p.name,
                    declared.join(", ")
                ))
            }
        })
        .collect()
}

/// The C++ shim for a model generated with `--prefix prefix`; `cxx_names` are the ports' C++
/// member names (see [`cxx_port_names`]).
pub(crate) fn shim_cpp(
    prefix: &str,
    top: &str,
    hash: &str,
    ports: &[Port],
    cxx_names: &[String],
    trace: bool,
) -> String {
    let n = ports.len();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by moca-sim (shim ABI {ABI_VERSION}) for module `{top}`, build {hash}.\n\
         #include <cstdint>\n#include <new>\n#include <utility>\n#include \"verilated.h\"\n\
         #include \"{prefix}.h\"\n#define MOCA_TRACE {}",
        u8::from(trace)
    );
    if trace {
        s.push_str(
            "#include \"verilated_vcd_c.h\"\n#include <cerrno>\n#include <fcntl.h>\n#include <unistd.h>\n",
        );
    }
    s.push_str("#define MOCA_API extern \"C\" __attribute__((visibility(\"default\")))\n\n");
    s.push_str("namespace {\n");
    if trace {
        s.push_str(
            "// Never reports a failed write to Verilator (see the module docs of moca-sim's shim).\n\
class MocaVcdFile final : public VerilatedVcdFile {\n\
public:\n\
    int fd = -1;\n\
    int err = 0;\n\
    bool open(const std::string& name) override {\n\
        err = 0;\n\
        fd = ::open(name.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0666);\n\
        if (fd < 0) { err = errno; return false; }\n\
        return true;\n\
    }\n\
    void close() override {\n\
        if (fd >= 0) { if (::close(fd) != 0 && !err) err = errno; fd = -1; }\n\
    }\n\
    ssize_t write(const char* p, ssize_t len) override {\n\
        ssize_t left = len;\n\
        while (left > 0 && !err && fd >= 0) {\n\
            ssize_t n = ::write(fd, p, static_cast<size_t>(left));\n\
            if (n < 0) { if (errno == EINTR) continue; err = errno; break; }\n\
            if (n == 0) { err = ENOSPC; break; }\n\
            p += n; left -= n;\n\
        }\n\
        return len;\n\
    }\n\
};\n",
        );
    }
    let _ = writeln!(s, "constexpr uint32_t kNumPorts = {n};");
    s.push_str("const uint32_t kWidths[kNumPorts + 1] = {");
    for p in ports {
        let _ = write!(s, "{}, ", p.width);
    }
    s.push_str("0};\nconst uint32_t kBytes[kNumPorts + 1] = {");
    for name in cxx_names {
        let _ = write!(
            s,
            "\n    static_cast<uint32_t>(sizeof(std::declval<{prefix}&>().{name})),"
        );
    }
    s.push_str(
        "\n    0};\n\
struct Inst {\n\
    VerilatedContext* ctx = nullptr;\n",
    );
    let _ = writeln!(s, "    {prefix}* top = nullptr;");
    s.push_str(
        "    void* ptrs[kNumPorts + 1] = {};\n\
    bool finished = false;\n\
    bool saw_finish = false;\n\
#if MOCA_TRACE\n\
    VerilatedVcdC* tfp = nullptr;\n\
    MocaVcdFile* vfile = nullptr;\n\
#endif\n\
};\n\
inline Inst* inst(void* h) { return static_cast<Inst*>(h); }\n\
inline uint32_t nwords(uint32_t w) { return (w + 31) / 32; }\n\
inline uint64_t mask64(uint32_t w) { return w >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << w) - 1); }\n\
}  // namespace\n\n",
    );
    let _ = writeln!(
        s,
        "MOCA_API uint32_t moca_sim_abi_version() {{ return {ABI_VERSION}; }}\n\
         MOCA_API const char* moca_sim_build_id() {{ return \"{hash}\"; }}"
    );
    s.push_str(
        "MOCA_API uint32_t moca_sim_num_ports() { return kNumPorts; }\n\
MOCA_API uint32_t moca_sim_port_width(uint32_t i) { return i < kNumPorts ? kWidths[i] : 0; }\n\
MOCA_API uint32_t moca_sim_port_storage_bytes(uint32_t i) { return i < kNumPorts ? kBytes[i] : 0; }\n\n\
MOCA_API void* moca_sim_create() {\n\
    Inst* s = nullptr;\n\
    try {\n\
        s = new Inst;\n\
        s->ctx = new VerilatedContext;\n\
        s->ctx->fatalOnError(false);\n\
#if MOCA_TRACE\n\
        s->ctx->traceEverOn(true);\n\
#endif\n",
    );
    let _ = writeln!(s, "        s->top = new {prefix}{{s->ctx, \"TOP\"}};");
    for (i, name) in cxx_names.iter().enumerate() {
        let _ = writeln!(
            s,
            "        s->ptrs[{i}] = static_cast<void*>(&s->top->{name});"
        );
    }
    s.push_str(
        "        return s;\n\
    } catch (...) {\n\
        if (s) { delete s->top; delete s->ctx; delete s; }\n\
        return nullptr;\n\
    }\n\
}\n\n\
MOCA_API void moca_sim_final(void* h) {\n\
    Inst* s = inst(h);\n\
    if (!s->finished) { s->finished = true; s->top->final(); }\n\
}\n\n\
MOCA_API void moca_sim_destroy(void* h) {\n\
    if (!h) return;\n\
    Inst* s = inst(h);\n\
    moca_sim_final(h);\n\
#if MOCA_TRACE\n\
    if (s->tfp) { s->tfp->close(); delete s->tfp; }\n\
    delete s->vfile;\n\
#endif\n\
    delete s->top;\n\
    delete s->ctx;\n\
    delete s;\n\
}\n\n\
MOCA_API void* moca_sim_port_ptr(void* h, uint32_t i) { return i < kNumPorts ? inst(h)->ptrs[i] : nullptr; }\n\n\
MOCA_API void moca_sim_set_u64(void* h, uint32_t i, uint64_t v) {\n\
    if (i >= kNumPorts) return;\n\
    void* p = inst(h)->ptrs[i];\n\
    v &= mask64(kWidths[i]);\n\
    switch (kBytes[i]) {\n\
    case 1: *static_cast<uint8_t*>(p) = static_cast<uint8_t>(v); break;\n\
    case 2: *static_cast<uint16_t*>(p) = static_cast<uint16_t>(v); break;\n\
    case 4: *static_cast<uint32_t*>(p) = static_cast<uint32_t>(v); break;\n\
    case 8: *static_cast<uint64_t*>(p) = v; break;\n\
    default: {\n\
        uint32_t* q = static_cast<uint32_t*>(p);\n\
        for (uint32_t k = 0; k < nwords(kWidths[i]); ++k) q[k] = 0;\n\
        q[0] = static_cast<uint32_t>(v);\n\
        q[1] = static_cast<uint32_t>(v >> 32);\n\
    }\n\
    }\n\
}\n\n\
MOCA_API uint64_t moca_sim_get_u64(void* h, uint32_t i) {\n\
    if (i >= kNumPorts) return 0;\n\
    const void* p = inst(h)->ptrs[i];\n\
    uint64_t v;\n\
    switch (kBytes[i]) {\n\
    case 1: v = *static_cast<const uint8_t*>(p); break;\n\
    case 2: v = *static_cast<const uint16_t*>(p); break;\n\
    case 4: v = *static_cast<const uint32_t*>(p); break;\n\
    case 8: v = *static_cast<const uint64_t*>(p); break;\n\
    default: {\n\
        const uint32_t* q = static_cast<const uint32_t*>(p);\n\
        v = static_cast<uint64_t>(q[0]) | (static_cast<uint64_t>(q[1]) << 32);\n\
    }\n\
    }\n\
    return v & mask64(kWidths[i]);\n\
}\n\n\
MOCA_API void moca_sim_set_words(void* h, uint32_t i, const uint32_t* w, uint32_t n) {\n\
    if (i >= kNumPorts) return;\n\
    uint32_t width = kWidths[i];\n\
    if (kBytes[i] <= 8) {\n\
        uint64_t v = (n > 0 ? w[0] : 0) | (n > 1 ? static_cast<uint64_t>(w[1]) << 32 : 0);\n\
        moca_sim_set_u64(h, i, v);\n\
        return;\n\
    }\n\
    uint32_t* q = static_cast<uint32_t*>(inst(h)->ptrs[i]);\n\
    uint32_t words = nwords(width);\n\
    for (uint32_t k = 0; k < words; ++k) q[k] = k < n ? w[k] : 0;\n\
    if (width % 32) q[words - 1] &= (UINT32_C(1) << (width % 32)) - 1;\n\
}\n\n\
MOCA_API void moca_sim_get_words(void* h, uint32_t i, uint32_t* w, uint32_t n) {\n\
    if (i >= kNumPorts) { for (uint32_t k = 0; k < n; ++k) w[k] = 0; return; }\n\
    uint32_t width = kWidths[i];\n\
    if (kBytes[i] <= 8) {\n\
        uint64_t v = moca_sim_get_u64(h, i);\n\
        for (uint32_t k = 0; k < n; ++k) w[k] = k == 0 ? static_cast<uint32_t>(v) : k == 1 ? static_cast<uint32_t>(v >> 32) : 0;\n\
        return;\n\
    }\n\
    const uint32_t* q = static_cast<const uint32_t*>(inst(h)->ptrs[i]);\n\
    uint32_t words = nwords(width);\n\
    for (uint32_t k = 0; k < n; ++k) {\n\
        uint32_t x = k < words ? q[k] : 0;\n\
        if (k + 1 == words && width % 32) x &= (UINT32_C(1) << (width % 32)) - 1;\n\
        w[k] = x;\n\
    }\n\
}\n\n\
MOCA_API void moca_sim_eval(void* h) {\n\
    Inst* s = inst(h);\n\
    s->top->eval();\n\
    // Verilator exits the process on a second $finish: remember it and clear the flag.\n\
    if (s->ctx->gotFinish()) { s->saw_finish = true; s->ctx->gotFinish(false); }\n\
}\n\
MOCA_API int32_t moca_sim_got_finish(void* h) { return inst(h)->saw_finish ? 1 : 0; }\n\n\
MOCA_API int32_t moca_sim_trace_open(void* h, const char* path) {\n\
#if MOCA_TRACE\n\
    Inst* s = inst(h);\n\
    try {\n\
        if (!s->tfp) {\n\
            s->vfile = new MocaVcdFile;\n\
            s->tfp = new VerilatedVcdC(s->vfile);\n\
            s->top->trace(s->tfp, 99);\n\
        }\n\
        if (s->tfp->isOpen()) s->tfp->close();\n\
        s->tfp->open(path);\n\
        return s->tfp->isOpen() ? 0 : -2;\n\
    } catch (...) { return -3; }\n\
#else\n\
    (void)h; (void)path;\n\
    return -1;\n\
#endif\n\
}\n\n\
MOCA_API void moca_sim_trace_dump(void* h, uint64_t t) {\n\
#if MOCA_TRACE\n\
    Inst* s = inst(h);\n\
    s->ctx->time(t);\n\
    if (s->tfp && s->tfp->isOpen()) s->tfp->dump(t);\n\
#else\n\
    (void)h; (void)t;\n\
#endif\n\
}\n\n\
MOCA_API void moca_sim_trace_close(void* h) {\n\
#if MOCA_TRACE\n\
    Inst* s = inst(h);\n\
    if (s->tfp && s->tfp->isOpen()) s->tfp->close();\n\
#else\n\
    (void)h;\n\
#endif\n\
}\n\n\
MOCA_API int32_t moca_sim_trace_error(void* h) {\n\
#if MOCA_TRACE\n\
    Inst* s = inst(h);\n\
    return s->vfile ? s->vfile->err : 0;\n\
#else\n\
    (void)h;\n\
    return 0;\n\
#endif\n\
}\n",
    );
    s
}

/// Makefile that includes Verilator's generated makefile and links the shared library.
pub(crate) fn makefile(prefix: &str) -> String {
    format!(
        "# Generated by moca-sim.\ninclude {prefix}.mk\n\n\
         {LIB_NAME}: moca_shim.o $(VK_OBJS) $(VK_GLOBAL_OBJS)\n\
         \t$(CXX) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS) -pthread -latomic \
         -Wl,--no-undefined -Wl,-Bsymbolic -Wl,--version-script=moca.map\n"
    )
}

/// Linker version script: export only the shim ABI, hide the Verilator runtime and the model.
pub(crate) const VERSION_SCRIPT: &str = "{ global: moca_sim_*; local: *; };\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verilator_names() {
        assert_eq!(verilator_encode("up$valid"), "up__024valid");
        assert_eq!(verilator_encode("a__b"), "a___05Fb");
        assert_eq!(verilator_encode("q__"), "q___05F");
        assert_eq!(verilator_encode("_x"), "_x");
        let ports = crate::parse_ports(
            "module top(a, delete, q$r); input a, delete; output q$r; endmodule",
            "top",
        )
        .unwrap();
        let header = "    VL_IN8(&a,0,0);\n    VL_IN8(&__SYM__delete,0,0);\n    VL_OUTW(&q__024r,127,0,4);\n";
        assert_eq!(
            cxx_port_names(header, &ports).unwrap(),
            ["a", "__SYM__delete", "q__024r"]
        );
        assert!(cxx_port_names("VL_IN8(&a,0,0);", &ports).is_err());
    }

    #[test]
    fn storage() {
        assert_eq!(storage_bytes(1), 1);
        assert_eq!(storage_bytes(9), 2);
        assert_eq!(storage_bytes(25), 4);
        assert_eq!(storage_bytes(64), 8);
        assert_eq!(storage_bytes(65), 12);
        assert_eq!(storage_bytes(128), 16);
    }

    #[test]
    fn shim_mentions_every_port() {
        let ports = crate::parse_ports(
            "module top(a, b); input a; output [127:0] b; endmodule",
            "top",
        )
        .unwrap();
        let names: Vec<String> = ports.iter().map(|p| verilator_encode(&p.name)).collect();
        let s = shim_cpp("Vx", "top", "h", &ports, &names, true);
        assert!(s.contains("&s->top->a)"));
        assert!(s.contains("&s->top->b)"));
        assert!(s.contains("kNumPorts = 2"));
        assert!(s.contains("verilated_vcd_c.h"));
    }
}
