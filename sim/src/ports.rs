//! Reading the ports of a module from Verilog text.
//!
//! Handles the non-ANSI form rust-hdl emits (`module top(a,b); input wire [2:0] a; ...`) and
//! ANSI headers (`module top(input wire a, output reg signed [7:0] b);`), `wire`/`reg`/`logic`
//! net types, `signed`, `integer`, ranges whose bounds are integer constant expressions
//! (`[24:0]`, `[8-1:0]`, `[32'd7:0]`), comments, attributes and compiler directives. Parameterised
//! widths, unpacked arrays, `inout` and escaped identifiers give a typed [`ParseError`].

use crate::error::ParseError;

/// Direction of a port.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Driven by the test bench.
    Input,
    /// Driven by the design.
    Output,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// A port of the top module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    /// Name as written in the Verilog.
    pub name: String,
    /// Width in bits (at least 1).
    pub width: u32,
    /// Input or output.
    pub direction: Direction,
    /// Declared `signed` (or `integer`).
    pub signed: bool,
}

impl Port {
    /// Number of 32-bit words holding a value of this port.
    pub fn words(&self) -> usize {
        self.width.div_ceil(32) as usize
    }

    /// Mask of the low `min(width, 64)` bits.
    pub fn mask64(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }
}

/// Index of a port in [`parse_ports`]' result (and in a model's `ports()`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub(crate) usize);

impl PortId {
    /// The index into the port list.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Largest port width accepted.
pub const MAX_PORT_WIDTH: u32 = 1 << 16;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Num(String),
    Punct(char),
    Escaped(String),
    Str,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut line = 1;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    if i + 1 >= b.len() {
                        return Err(ParseError::UnterminatedComment { line: start });
                    }
                    if b[i] == b'*' && b[i + 1] == b'/' {
                        i += 2;
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            // Attribute `(* ... *)`, but not `@(*)`.
            b'(' if b.get(i + 1) == Some(&b'*') && b.get(i + 2) != Some(&b')') => {
                let start = line;
                i += 2;
                loop {
                    if i + 1 >= b.len() {
                        return Err(ParseError::Syntax {
                            line: start,
                            message: "unterminated attribute `(* ... *)`".into(),
                        });
                    }
                    if b[i] == b'*' && b[i + 1] == b')' {
                        i += 2;
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if i < b.len() && b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token {
                    tok: Tok::Str,
                    line,
                });
            }
            // Compiler directive: skip the rest of the line (with `\` continuations).
            b'`' => {
                while i < b.len() && b[i] != b'\n' {
                    if b[i] == b'\\' && b.get(i + 1) == Some(&b'\n') {
                        line += 1;
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\\' => {
                let s = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Escaped(String::from_utf8_lossy(&b[s..i]).into_owned()),
                    line,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(src[s..i].to_string()),
                    line,
                });
            }
            c if c.is_ascii_digit() || c == b'\'' => {
                let s = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'\''
                        || b[i] == b'?')
                {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Num(src[s..i].to_string()),
                    line,
                });
            }
            _ => {
                // Multi-byte UTF-8 characters only occur in comments and strings in valid
                // Verilog; anything else is kept as punctuation.
                let ch = src[i..].chars().next().unwrap_or('?');
                out.push(Token {
                    tok: Tok::Punct(ch),
                    line,
                });
                i += ch.len_utf8();
            }
        }
    }
    Ok(out)
}

/// Parse an integer literal: `12`, `1_000`, `32'd7`, `8'hff`, `'b101`, `4'sd3`.
fn parse_number(s: &str) -> Result<i128, String> {
    let s = s.replace('_', "");
    let (digits, radix) = match s.find('\'') {
        None => (s.as_str(), 10),
        Some(p) => {
            let rest = &s[p + 1..];
            let rest = rest.strip_prefix(['s', 'S']).unwrap_or(rest);
            let mut chars = rest.chars();
            let radix = match chars.next() {
                Some('d' | 'D') => 10,
                Some('h' | 'H') => 16,
                Some('b' | 'B') => 2,
                Some('o' | 'O') => 8,
                _ => return Err(format!("`{s}` is not an integer literal")),
            };
            (chars.as_str(), radix)
        }
    };
    i128::from_str_radix(digits, radix).map_err(|_| format!("`{s}` is not an integer constant"))
}

/// Evaluate an integer constant expression of `+ - * ( )` and literals.
struct Expr<'a> {
    toks: &'a [Token],
    pos: usize,
}

impl Expr<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn sum(&mut self) -> Result<i128, String> {
        let mut v = self.product()?;
        loop {
            match self.peek() {
                Some(Tok::Punct('+')) => {
                    self.pos += 1;
                    v = v.checked_add(self.product()?).ok_or("overflow")?;
                }
                Some(Tok::Punct('-')) => {
                    self.pos += 1;
                    v = v.checked_sub(self.product()?).ok_or("overflow")?;
                }
                _ => return Ok(v),
            }
        }
    }

    fn product(&mut self) -> Result<i128, String> {
        let mut v = self.atom()?;
        while let Some(Tok::Punct('*')) = self.peek() {
            self.pos += 1;
            v = v.checked_mul(self.atom()?).ok_or("overflow")?;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<i128, String> {
        let t = self.peek().cloned();
        self.pos += 1;
        match t {
            Some(Tok::Num(n)) => parse_number(&n),
            Some(Tok::Punct('-')) => Ok(-self.atom()?),
            Some(Tok::Punct('+')) => self.atom(),
            Some(Tok::Punct('(')) => {
                let v = self.sum()?;
                match self.peek() {
                    Some(Tok::Punct(')')) => {
                        self.pos += 1;
                        Ok(v)
                    }
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Tok::Ident(id)) => Err(format!("it uses `{id}`, which is not a literal")),
            Some(other) => Err(format!("unexpected {}", describe(&other))),
            None => Err("empty expression".into()),
        }
    }
}

fn eval_const(toks: &[Token]) -> Result<i128, String> {
    let mut e = Expr { toks, pos: 0 };
    let v = e.sum()?;
    match e.peek() {
        None => Ok(v),
        Some(t) => Err(format!("unexpected {}", describe(t))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Num(s) => format!("`{s}`"),
        Tok::Punct(c) => format!("`{c}`"),
        Tok::Escaped(s) => format!("escaped identifier `{s}`"),
        Tok::Str => "a string".into(),
    }
}

/// The type part of a declaration: signedness and range.
#[derive(Clone, Debug, Default)]
struct DeclType {
    signed: bool,
    /// Width or the reason it could not be computed (reported with the port name).
    width: Option<Result<u32, String>>,
    integer: bool,
}

impl DeclType {
    fn width(&self, line: usize, port: &str) -> Result<u32, ParseError> {
        match &self.width {
            None if self.integer => Ok(32),
            None => Ok(1),
            Some(Ok(w)) => Ok(*w),
            Some(Err(reason)) => Err(ParseError::UnsupportedWidth {
                line,
                port: port.to_string(),
                reason: reason.clone(),
            }),
        }
    }
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    top: &'a str,
}

fn is_direction(s: &str) -> bool {
    matches!(s, "input" | "output" | "inout")
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn syntax(&self, message: impl Into<String>) -> ParseError {
        ParseError::Syntax {
            line: self.line(),
            message: message.into(),
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(Tok::Punct(p)) if *p == c => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(self.syntax(format!("expected `{c}` {what}, found {}", describe(t)))),
            None => Err(self.syntax(format!("expected `{c}` {what}, found end of text"))),
        }
    }

    /// Skip a balanced group starting at an opening bracket.
    fn skip_group(&mut self, open: char, close: char) -> Result<(), ParseError> {
        let start = self.line();
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            self.pos += 1;
            match t {
                Tok::Punct(c) if *c == open => depth += 1,
                Tok::Punct(c) if *c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err(ParseError::Syntax {
            line: start,
            message: format!("unbalanced `{open}`"),
        })
    }

    /// Parse `[msb:lsb]` at the current position (which is `[`).
    fn range(&mut self) -> Result<Result<u32, String>, ParseError> {
        let start = self.pos;
        self.skip_group('[', ']')?;
        let inner = &self.toks[start + 1..self.pos - 1];
        let mut depth = 0i32;
        let mut colon = None;
        for (k, t) in inner.iter().enumerate() {
            match t.tok {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                Tok::Punct(':') if depth == 0 && colon.is_none() => colon = Some(k),
                _ => {}
            }
        }
        let Some(colon) = colon else {
            return Ok(Err("expected a range `[msb:lsb]`".into()));
        };
        let r = eval_const(&inner[..colon]).and_then(|msb| {
            let lsb = eval_const(&inner[colon + 1..])?;
            let w = (msb - lsb).abs() + 1;
            if w > i128::from(MAX_PORT_WIDTH) {
                Err(format!(
                    "{w} bits is more than the {MAX_PORT_WIDTH} supported"
                ))
            } else {
                Ok(w as u32)
            }
        });
        Ok(r)
    }

    /// After a direction keyword: net type keywords, `signed`, and a range.
    fn decl_type(&mut self) -> Result<DeclType, ParseError> {
        let mut t = DeclType::default();
        loop {
            match self.peek() {
                Some(Tok::Ident(s)) => match s.as_str() {
                    "wire" | "reg" | "logic" | "tri" | "var" | "bit" | "unsigned" => self.pos += 1,
                    "signed" => {
                        t.signed = true;
                        self.pos += 1;
                    }
                    "integer" => {
                        t.integer = true;
                        t.signed = true;
                        self.pos += 1;
                    }
                    _ => return Ok(t),
                },
                Some(Tok::Punct('[')) => {
                    if t.width.is_some() {
                        return Err(self.syntax("packed multi-dimensional ports are not supported"));
                    }
                    t.width = Some(self.range()?);
                }
                _ => return Ok(t),
            }
        }
    }

    fn port_name(&mut self) -> Result<(String, usize), ParseError> {
        let line = self.line();
        match self.peek() {
            Some(Tok::Ident(s)) => {
                self.pos += 1;
                Ok((s.clone(), line))
            }
            Some(Tok::Escaped(s)) => Err(ParseError::Unsupported {
                line,
                port: s.clone(),
                what: "an escaped identifier".into(),
            }),
            Some(t) => Err(self.syntax(format!("expected a port name, found {}", describe(t)))),
            None => Err(self.syntax("expected a port name, found end of text")),
        }
    }

    fn reject_unpacked(&mut self, name: &str, line: usize) -> Result<(), ParseError> {
        if let Some(Tok::Punct('[')) = self.peek() {
            return Err(ParseError::Unsupported {
                line,
                port: name.to_string(),
                what: "an unpacked array port".into(),
            });
        }
        Ok(())
    }

    fn make_port(
        &self,
        name: String,
        line: usize,
        dir: &str,
        ty: &DeclType,
    ) -> Result<Port, ParseError> {
        let direction = match dir {
            "input" => Direction::Input,
            "output" => Direction::Output,
            _ => {
                return Err(ParseError::Unsupported {
                    line,
                    port: name,
                    what: "an inout port".into(),
                });
            }
        };
        let width = ty.width(line, &name)?;
        Ok(Port {
            name,
            width,
            direction,
            signed: ty.signed,
        })
    }

    /// ANSI header: `(input wire a, output reg [3:0] b, c)`; the position is after `(`.
    fn ansi_header(&mut self) -> Result<Vec<Port>, ParseError> {
        let mut ports: Vec<Port> = Vec::new();
        let mut dir = String::new();
        let mut ty = DeclType::default();
        loop {
            if let Some(Tok::Ident(s)) = self.peek()
                && is_direction(s)
            {
                dir = s.clone();
                self.pos += 1;
                ty = self.decl_type()?;
            }
            let (name, line) = self.port_name()?;
            self.reject_unpacked(&name, line)?;
            if ports.iter().any(|p| p.name == name) {
                return Err(ParseError::DuplicatePort { line, port: name });
            }
            ports.push(self.make_port(name, line, &dir, &ty)?);
            match self.peek() {
                Some(Tok::Punct(',')) => self.pos += 1,
                Some(Tok::Punct(')')) => {
                    self.pos += 1;
                    return Ok(ports);
                }
                Some(t) => {
                    return Err(self.syntax(format!(
                        "expected `,` or `)` in the port list, found {}",
                        describe(t)
                    )));
                }
                None => return Err(self.syntax("unterminated port list")),
            }
        }
    }

    /// Non-ANSI header: `(a, b, c)`; the position is after `(`.
    fn plain_header(&mut self) -> Result<Vec<(String, usize)>, ParseError> {
        let mut names: Vec<(String, usize)> = Vec::new();
        loop {
            if let Some(Tok::Punct('.')) = self.peek() {
                return Err(ParseError::Unsupported {
                    line: self.line(),
                    port: String::new(),
                    what: "an explicitly named port `.name(expr)`".into(),
                });
            }
            let (name, line) = self.port_name()?;
            if names.iter().any(|(n, _)| *n == name) {
                return Err(ParseError::DuplicatePort { line, port: name });
            }
            names.push((name, line));
            match self.peek() {
                Some(Tok::Punct(',')) => self.pos += 1,
                Some(Tok::Punct(')')) => {
                    self.pos += 1;
                    return Ok(names);
                }
                Some(t) => {
                    return Err(self.syntax(format!(
                        "expected `,` or `)` in the port list, found {}",
                        describe(t)
                    )));
                }
                None => return Err(self.syntax("unterminated port list")),
            }
        }
    }

    /// Module body of a non-ANSI module: collect `input`/`output` declarations.
    fn body_decls(&mut self, header: &[(String, usize)]) -> Result<Vec<Port>, ParseError> {
        let mut found: Vec<Option<Port>> = vec![None; header.len()];
        loop {
            let Some(t) = self.peek() else {
                return Err(self.syntax(format!("missing `endmodule` for module `{}`", self.top)));
            };
            match t {
                Tok::Ident(s) if s == "endmodule" => break,
                Tok::Ident(s) if s == "function" || s == "task" => {
                    let end = format!("end{s}");
                    while let Some(t) = self.peek() {
                        self.pos += 1;
                        if matches!(t, Tok::Ident(x) if *x == end) {
                            break;
                        }
                    }
                }
                Tok::Ident(s) if is_direction(s) => {
                    let dir = s.clone();
                    self.pos += 1;
                    let ty = self.decl_type()?;
                    loop {
                        let (name, line) = self.port_name()?;
                        self.reject_unpacked(&name, line)?;
                        let Some(k) = header.iter().position(|(n, _)| *n == name) else {
                            return Err(ParseError::NotInHeader {
                                line,
                                top: self.top.to_string(),
                                port: name,
                            });
                        };
                        if found[k].is_some() {
                            return Err(ParseError::DuplicatePort { line, port: name });
                        }
                        found[k] = Some(self.make_port(name, line, &dir, &ty)?);
                        // Optional initialiser `= expr`.
                        if let Some(Tok::Punct('=')) = self.peek() {
                            let mut depth = 0i32;
                            while let Some(t) = self.peek() {
                                match t {
                                    Tok::Punct('(' | '[' | '{') => depth += 1,
                                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                                    Tok::Punct(',' | ';') if depth == 0 => break,
                                    _ => {}
                                }
                                self.pos += 1;
                            }
                        }
                        match self.peek() {
                            Some(Tok::Punct(',')) => self.pos += 1,
                            Some(Tok::Punct(';')) => {
                                self.pos += 1;
                                break;
                            }
                            Some(t) => {
                                return Err(self.syntax(format!(
                                    "expected `,` or `;` after port `{}`, found {}",
                                    header[k].0,
                                    describe(t)
                                )));
                            }
                            None => return Err(self.syntax("unterminated declaration")),
                        }
                    }
                }
                _ => self.pos += 1,
            }
        }
        header
            .iter()
            .zip(found)
            .map(|((name, _), p)| {
                p.ok_or_else(|| ParseError::MissingDirection {
                    top: self.top.to_string(),
                    port: name.clone(),
                })
            })
            .collect()
    }

    fn module(&mut self) -> Result<Vec<Port>, ParseError> {
        // Parameter port list.
        if let Some(Tok::Punct('#')) = self.peek() {
            self.pos += 1;
            if let Some(Tok::Punct('(')) = self.peek() {
                self.skip_group('(', ')')?;
            } else {
                return Err(self.syntax("expected `(` after `#`"));
            }
        }
        match self.peek() {
            Some(Tok::Punct(';')) => return Ok(Vec::new()),
            Some(Tok::Punct('(')) => self.pos += 1,
            _ => {
                return Err(self.syntax(format!("expected `(` or `;` after `module {}`", self.top)));
            }
        }
        if let Some(Tok::Punct(')')) = self.peek() {
            self.pos += 1;
            self.expect_punct(';', "after the port list")?;
            return Ok(Vec::new());
        }
        let ansi = matches!(self.peek(), Some(Tok::Ident(s)) if is_direction(s));
        if ansi {
            let ports = self.ansi_header()?;
            self.expect_punct(';', "after the port list")?;
            Ok(ports)
        } else {
            let header = self.plain_header()?;
            self.expect_punct(';', "after the port list")?;
            self.body_decls(&header)
        }
    }
}

/// Read the ports of module `top` from Verilog text, in header order.
///
/// The text may hold several modules (rust-hdl emits submodules before the top).
pub fn parse_ports(verilog: &str, top: &str) -> Result<Vec<Port>, ParseError> {
    let toks = tokenize(verilog)?;
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < toks.len() {
        if let (Tok::Ident(kw), Tok::Ident(name)) = (&toks[i].tok, &toks[i + 1].tok)
            && (kw == "module" || kw == "macromodule")
        {
            if name == top {
                let mut p = Parser {
                    toks: &toks,
                    pos: i + 2,
                    top,
                };
                return p.module();
            }
            found.push(name.clone());
        }
        i += 1;
    }
    Err(ParseError::ModuleNotFound {
        top: top.to_string(),
        found: if found.is_empty() {
            "none".into()
        } else {
            found.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, width: u32, direction: Direction, signed: bool) -> Port {
        Port {
            name: name.into(),
            width,
            direction,
            signed,
        }
    }

    #[test]
    fn rust_hdl_style() {
        let v = "
module sub(a, b);
    input wire a;
    output wire b;
    assign b = a;
endmodule // sub

module top(clock,up_valid,up_beats,down_ready,status_outer);
    // Module arguments
    input wire  clock;
    input wire  up_valid;
    input wire  [2:0] up_beats;
    input wire  down_ready;
    output reg  signed [24:0] status_outer;
    /* a comment with input wire x; */
    function [3:0] f; input [3:0] v; f = v; endfunction
    initial begin
        status_outer = 25'h0;
    end
endmodule // top
";
        let ports = parse_ports(v, "top").unwrap();
        assert_eq!(
            ports,
            vec![
                p("clock", 1, Direction::Input, false),
                p("up_valid", 1, Direction::Input, false),
                p("up_beats", 3, Direction::Input, false),
                p("down_ready", 1, Direction::Input, false),
                p("status_outer", 25, Direction::Output, true),
            ]
        );
        assert_eq!(
            parse_ports(v, "sub").unwrap(),
            vec![
                p("a", 1, Direction::Input, false),
                p("b", 1, Direction::Output, false)
            ]
        );
    }

    #[test]
    fn ansi_style() {
        let v = "`timescale 1ns/1ps
(* keep *) module top #(parameter W = 8) (input wire clk, input [7:0] a, b,
   output reg signed [32'd15:4-4] q, output integer n, output logic [0:3] r);
  always @(*) q = a;
endmodule";
        let ports = parse_ports(v, "top").unwrap();
        assert_eq!(
            ports,
            vec![
                p("clk", 1, Direction::Input, false),
                p("a", 8, Direction::Input, false),
                p("b", 8, Direction::Input, false),
                p("q", 16, Direction::Output, true),
                p("n", 32, Direction::Output, true),
                p("r", 4, Direction::Output, false),
            ]
        );
    }

    #[test]
    fn multiple_names_and_initialisers() {
        let v = "module top(a, b, c); input a, b; output reg [3:0] c = 4'd3; endmodule";
        let ports = parse_ports(v, "top").unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports[1], p("b", 1, Direction::Input, false));
        assert_eq!(ports[2], p("c", 4, Direction::Output, false));
        assert_eq!(parse_ports("module top; endmodule", "top").unwrap(), vec![]);
        assert_eq!(
            parse_ports("module top(); endmodule", "top").unwrap(),
            vec![]
        );
    }

    #[test]
    fn errors() {
        let e = parse_ports("module a(x); input x; endmodule", "top").unwrap_err();
        assert_eq!(
            e,
            ParseError::ModuleNotFound {
                top: "top".into(),
                found: "a".into()
            }
        );
        let e = parse_ports(
            "module top #(parameter W=4) (input [W-1:0] x); endmodule",
            "top",
        )
        .unwrap_err();
        assert!(
            matches!(e, ParseError::UnsupportedWidth { ref port, .. } if port == "x"),
            "{e}"
        );
        assert!(e.to_string().contains("`W`"), "{e}");
        let e = parse_ports("module top(x, y); input x; endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::MissingDirection { ref port, .. } if port == "y"));
        let e = parse_ports("module top(x); input x; output z; endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::NotInHeader { ref port, line: 1, .. } if port == "z"));
        let e = parse_ports("module top(x); inout x; endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::Unsupported { .. }));
        let e = parse_ports("module top(input [3:0] x [1:0]); endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::Unsupported { .. }));
        let e = parse_ports("module top(x); input x; input x; endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::DuplicatePort { .. }));
        let e = parse_ports("module top(x); /* input x;", "top").unwrap_err();
        assert_eq!(e, ParseError::UnterminatedComment { line: 1 });
        let e = parse_ports("module top(x);\n input x;\n", "top").unwrap_err();
        assert!(matches!(e, ParseError::Syntax { .. }), "{e}");
        let e = parse_ports("module top(x y); endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::Syntax { line: 1, .. }), "{e}");
        let e = parse_ports("module top(\\x ); input \\x ; endmodule", "top").unwrap_err();
        assert!(matches!(e, ParseError::Unsupported { .. }), "{e}");
    }
}
