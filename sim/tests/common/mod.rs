//! Handwritten Verilog in the style rust-hdl emits, and helpers shared by the tests.
#![allow(dead_code)]

use sim::{BuildOptions, CompiledModel, VerilatedModel};
use std::path::PathBuf;

/// A counter with enable and synchronous load, a combinational output, and a submodule
/// emitted before the top.
pub const COUNTER: &str = "
module inc8(a,y);
    // Module arguments
    input wire  [7:0] a;
    output wire  [7:0] y;
    assign y = a + 32'h1;
endmodule // inc8

module top(clock,en,load,d,q,wrap);
    // Module arguments
    input wire  clock;
    input wire  en;
    input wire  load;
    input wire  [7:0] d;
    output reg  [7:0] q;
    output reg  wrap;
    // Stub signals
    wire  [7:0] next_q;
    // Sub module instances
    inc8 inc(.a(q), .y(next_q));
    // Update code
    initial begin
        q = 8'h0;
    end
    always @(posedge clock) begin
        if (load) q <= d;
        else if (en) q <= next_q;
    end
    always @(*) begin
        wrap = en & (q == 32'hff);
    end
endmodule // top
";

/// Same ports as [`COUNTER`], counts by 3.
pub const COUNTER_BY_3: &str = "
module top(clock,en,load,d,q,wrap);
    input wire  clock;
    input wire  en;
    input wire  load;
    input wire  [7:0] d;
    output reg  [7:0] q;
    output reg  wrap;
    initial begin
        q = 8'h0;
    end
    always @(posedge clock) begin
        if (load) q <= d;
        else if (en) q <= q + 32'h3;
    end
    always @(*) begin
        wrap = 1'b0;
    end
endmodule // top
";

/// A 128-bit port, signed 25-bit ports and a 65-bit output.
pub const WIDE: &str = "
module top(clock,a,s,y,t,neg,w65);
    // Module arguments
    input wire  clock;
    input wire  [127:0] a;
    input wire  signed [24:0] s;
    output reg  [127:0] y;
    output reg  signed [24:0] t;
    output wire  signed [24:0] neg;
    output wire  [64:0] w65;
    initial begin
        y = 128'h0;
    end
    initial begin
        t = 25'h0;
    end
    always @(posedge clock) begin
        y <= {a[63:0], a[127:64]} ^ y;
        t <= t + s;
    end
    assign neg = -s;
    assign w65 = {a[127], a[63:0]};
endmodule // top
";

/// Registers with `initial` blocks, and one (`c`) without.
pub const INITIALS: &str = "
module top(clock,a,b,c);
    input wire  clock;
    output reg  [7:0] a;
    output reg  signed [15:0] b;
    output reg  [3:0] c;
    initial begin
        a = 8'ha5;
    end
    initial begin
        b = -16'sd3;
    end
    always @(posedge clock) begin
        a <= a + 32'h1;
        c <= c + 4'h1;
    end
endmodule // top
";

/// Build with the default options (shared cache under `target/`), failing loudly if Verilator
/// is missing.
pub fn build(verilog: &str, opts: &BuildOptions) -> VerilatedModel {
    compile(verilog, opts)
        .instantiate()
        .unwrap_or_else(|e| panic!("instantiating the model failed: {e}"))
}

/// Compile, failing loudly if Verilator is missing.
pub fn compile(verilog: &str, opts: &BuildOptions) -> CompiledModel {
    CompiledModel::compile(verilog, "top", opts).unwrap_or_else(|e| {
        panic!("building with Verilator failed: {e}\n(these tests need `apt-get install verilator g++ make`)")
    })
}

/// A fresh, empty directory under the system temp dir.
pub fn fresh_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "moca-sim-test-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
