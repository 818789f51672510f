//! A small, safe boolean expression language over an alert, for channels
//! that do not want to write Rust:
//!
//! ```text
//! candidate.rb > 0.5 && ndet >= 3 && abs(gal_lat) > 10 && candidate.isdiffpos != "f"
//! ```
//!
//! * Variables: `candidate.<field>` (aliases `latest.<field>` and, for
//!   Rubin packets, `diaSource.<field>`): a field of the latest datapoint; derived quantities `ndet` (detections), `nupper`
//!   (upper limits), `nforced`, `ndp` (all datapoints), `tspan` (days between
//!   first and last detection), `jd_first`, `jd_last`, `gal_lat`, `gal_lon`
//!   (degrees, from the latest ra/dec).
//! * Literals: numbers, "strings", `true`, `false`, `null`.
//! * Operators: `|| && !` (also `or and not`), `== != < <= > >=`, `+ - * / %`,
//!   unary `-`, parentheses. Functions: `abs`, `min`, `max`, `sqrt`, `log10`,
//!   `exists(candidate.x)` (present and non-null).
//! * Null: a missing or null field is `null`; arithmetic on null gives null,
//!   comparisons with null are false (except `== null` / `!= null`), and
//!   null counts as false in `&&`, `||`, `!`.
//!
//! Compiled once; evaluation has no loops, no I/O, and a size bound
//! ([`MAX_LEN`], [`MAX_DEPTH`]), so its time is bounded by the text's length.

use crate::alert::{Alert, DataPointKind, Value};
use crate::astro::icrs_to_galactic;
use std::fmt;

pub const MAX_LEN: usize = 4096;
pub const MAX_DEPTH: usize = 64;

/// A compile error, pointing at the offending token.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub source: String,
    /// Byte offset and length of the bad token.
    pub at: usize,
    pub len: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.source[..self.at.min(self.source.len())]
            .chars()
            .count();
        let width = self.source[self.at.min(self.source.len())..]
            .chars()
            .take(self.len.max(1))
            .count()
            .max(1);
        write!(
            f,
            "{} (column {})\n    {}\n    {}{}",
            self.message,
            col + 1,
            self.source,
            " ".repeat(col),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for ExprError {}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    Ndet,
    Nupper,
    Nforced,
    Ndp,
    Tspan,
    JdFirst,
    JdLast,
    GalLat,
    GalLon,
}

const VARS: [(&str, Var); 9] = [
    ("ndet", Var::Ndet),
    ("nupper", Var::Nupper),
    ("nforced", Var::Nforced),
    ("ndp", Var::Ndp),
    ("tspan", Var::Tspan),
    ("jd_first", Var::JdFirst),
    ("jd_last", Var::JdLast),
    ("gal_lat", Var::GalLat),
    ("gal_lon", Var::GalLon),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Abs,
    Min,
    Max,
    Sqrt,
    Log10,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone)]
enum Node {
    Lit(V),
    Field(Box<str>),
    Var(Var),
    Not(Box<Node>),
    Neg(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

/// Runtime values.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(Box<str>),
}

impl V {
    fn truthy(&self) -> bool {
        matches!(self, V::Bool(true))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
    End,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize, usize)>, ExprError> {
    let err = |at: usize, len: usize, m: String| ExprError {
        source: src.to_string(),
        at,
        len,
        message: m,
    };
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || ((b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            let text = &src[start..i];
            let n: f64 = text
                .parse()
                .map_err(|_| err(start, i - start, format!("bad number `{text}`")))?;
            out.push((Tok::Num(n), start, i - start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), start, i - start));
        } else if c == b'"' || c == b'\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match b.get(i) {
                    None => return Err(err(start, i - start, "unterminated string".into())),
                    Some(&q) if q == c => break,
                    Some(b'\\') if i + 1 < b.len() => {
                        s.push(b[i + 1] as char);
                        i += 2;
                    }
                    Some(_) => {
                        let ch = src[i..].chars().next().expect("in bounds");
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            i += 1;
            out.push((Tok::Str(s), start, i - start));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let op: Option<&'static str> = ["||", "&&", "==", "!=", "<=", ">="]
                .into_iter()
                .find(|o| *o == two);
            let (tok, len) = if let Some(o) = op {
                (Tok::Op(o), 2)
            } else {
                let t = match c {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    b'.' => Tok::Dot,
                    b'<' => Tok::Op("<"),
                    b'>' => Tok::Op(">"),
                    b'!' => Tok::Op("!"),
                    b'+' => Tok::Op("+"),
                    b'-' => Tok::Op("-"),
                    b'*' => Tok::Op("*"),
                    b'/' => Tok::Op("/"),
                    b'%' => Tok::Op("%"),
                    b'=' => return Err(err(i, 1, "unexpected `=` (did you mean `==`?)".into())),
                    b'&' => return Err(err(i, 1, "unexpected `&` (did you mean `&&`?)".into())),
                    b'|' => return Err(err(i, 1, "unexpected `|` (did you mean `||`?)".into())),
                    _ => {
                        let ch = src[i..].chars().next().expect("in bounds");
                        return Err(err(
                            i,
                            ch.len_utf8(),
                            format!("unexpected character `{ch}`"),
                        ));
                    }
                };
                (t, 1)
            };
            i += len;
            out.push((tok, start, len));
        }
    }
    out.push((Tok::End, src.len(), 0));
    Ok(out)
}

/// A top-level operand of `&&` with its byte span in the source.
type Clause = ((usize, usize), Node);

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn err_here(&self, message: String) -> ExprError {
        let (_, at, len) = self.toks[self.pos];
        ExprError {
            source: self.src.to_string(),
            at,
            len,
            message,
        }
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(format!("expression nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let mut l = self.and()?;
        while *self.peek() == Tok::Op("||") || self.is_word("or") {
            self.next();
            l = Node::Bin(BinOp::Or, Box::new(l), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(l)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let list = self.and_list()?;
        Ok(fold_and(list.into_iter().map(|(_, n)| n)))
    }

    /// The operands of an `&&` chain, each with its source span.
    fn and_list(&mut self) -> Result<Vec<Clause>, ExprError> {
        let mut out = Vec::new();
        loop {
            let start = self.toks[self.pos].1;
            let node = self.not()?;
            let (_, at, len) = self.toks[self.pos - 1];
            out.push(((start, at + len), node));
            if *self.peek() == Tok::Op("&&") || self.is_word("and") {
                self.next();
            } else {
                return Ok(out);
            }
        }
    }

    fn not(&mut self) -> Result<Node, ExprError> {
        if *self.peek() == Tok::Op("!") || self.is_word("not") {
            self.next();
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Node, ExprError> {
        let l = self.sum()?;
        let op = match self.peek() {
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            _ => return Ok(l),
        };
        self.next();
        let r = self.sum()?;
        if matches!(self.peek(), Tok::Op("==" | "!=" | "<" | "<=" | ">" | ">=")) {
            return Err(self.err_here("comparisons do not chain; combine them with &&".into()));
        }
        Ok(Node::Bin(op, Box::new(l), Box::new(r)))
    }

    fn sum(&mut self) -> Result<Node, ExprError> {
        let mut l = self.prod()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.prod()?));
        }
    }

    fn prod(&mut self) -> Result<Node, ExprError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Rem,
                _ => return Ok(l),
            };
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if *self.peek() == Tok::Op("-") {
            self.next();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Neg(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let here = self.pos;
        match self.next() {
            Tok::Num(n) => Ok(Node::Lit(V::Num(n))),
            Tok::Str(s) => Ok(Node::Lit(V::Str(s.into()))),
            Tok::LParen => {
                let e = self.or()?;
                if *self.peek() != Tok::RParen {
                    return Err(self.err_here("expected `)`".into()));
                }
                self.next();
                Ok(e)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Node::Lit(V::Bool(true))),
                "false" => Ok(Node::Lit(V::Bool(false))),
                "null" | "None" => Ok(Node::Lit(V::Null)),
                "candidate" | "latest" | "diaSource" => {
                    if *self.peek() != Tok::Dot {
                        return Err(self.err_here(format!("expected `.field` after `{name}`")));
                    }
                    self.next();
                    match self.next() {
                        Tok::Ident(f) => Ok(Node::Field(f.into())),
                        _ => {
                            self.pos -= 1;
                            Err(self.err_here("expected a field name".into()))
                        }
                    }
                }
                _ if *self.peek() == Tok::LParen => self.call(here, &name),
                _ => match VARS.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => Ok(Node::Var(*v)),
                    None => {
                        self.pos = here;
                        let known: Vec<&str> = VARS.iter().map(|(n, _)| *n).collect();
                        Err(self.err_here(format!(
                            "unknown variable `{name}` (known: candidate.<field> or diaSource.<field>, {})",
                            known.join(", ")
                        )))
                    }
                },
            },
            Tok::End => {
                self.pos = here;
                Err(self.err_here("unexpected end of expression".into()))
            }
            t => {
                self.pos = here;
                Err(self.err_here(format!("unexpected {}", describe(&t))))
            }
        }
    }

    fn call(&mut self, at: usize, name: &str) -> Result<Node, ExprError> {
        let func = match name {
            "abs" => Func::Abs,
            "min" => Func::Min,
            "max" => Func::Max,
            "sqrt" => Func::Sqrt,
            "log10" => Func::Log10,
            "exists" => Func::Exists,
            _ => {
                self.pos = at;
                return Err(self.err_here(format!(
                    "unknown function `{name}` (known: abs, min, max, sqrt, log10, exists)"
                )));
            }
        };
        self.next(); // (
        self.enter()?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                args.push(self.or()?);
                if *self.peek() == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        if *self.peek() != Tok::RParen {
            return Err(self.err_here("expected `,` or `)`".into()));
        }
        self.next();
        self.depth -= 1;
        let ok = match func {
            Func::Min | Func::Max => !args.is_empty(),
            Func::Exists => args.len() == 1 && matches!(args[0], Node::Field(_)),
            _ => args.len() == 1,
        };
        if !ok {
            self.pos = at;
            let want = match func {
                Func::Min | Func::Max => "at least one argument",
                Func::Exists => "one argument of the form candidate.<field>",
                _ => "exactly one argument",
            };
            return Err(self.err_here(format!("`{name}` takes {want}")));
        }
        Ok(Node::Call(func, args))
    }
}

fn fold_and(nodes: impl Iterator<Item = Node>) -> Node {
    nodes
        .reduce(|l, r| Node::Bin(BinOp::And, Box::new(l), Box::new(r)))
        .unwrap_or(Node::Lit(V::Bool(true)))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::End => "end of expression".into(),
    }
}

/// A compiled expression. Top-level `&&` clauses are kept apart so that a
/// rejection can name the clause that failed.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    clauses: Vec<(String, Node)>,
}

/// Derived quantities, computed only when an expression uses them.
struct Ctx<'a> {
    alert: &'a Alert,
}

impl Expression {
    pub fn compile(src: &str) -> Result<Expression, ExprError> {
        if src.len() > MAX_LEN {
            return Err(ExprError {
                source: src.chars().take(60).collect(),
                at: 0,
                len: 1,
                message: format!("expression longer than {MAX_LEN} bytes"),
            });
        }
        let toks = lex(src)?;
        let mut p = Parser {
            src,
            toks,
            pos: 0,
            depth: 0,
        };
        let list = p.and_list()?;
        let clauses = if *p.peek() == Tok::Op("||") || p.is_word("or") {
            // `a && b || c` is one clause: || binds loosest.
            p.next();
            let rest = p.or()?;
            let left = fold_and(list.into_iter().map(|(_, n)| n));
            vec![(
                src.trim().to_string(),
                Node::Bin(BinOp::Or, Box::new(left), Box::new(rest)),
            )]
        } else {
            list.into_iter()
                .map(|((a, b), n)| (src[a..b].trim().to_string(), n))
                .collect()
        };
        if *p.peek() != Tok::End {
            return Err(p.err_here(format!("unexpected {}", describe(p.peek()))));
        }
        Ok(Expression {
            source: src.to_string(),
            clauses,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The latest datapoint's fields the expression names
    /// (`candidate.rb` -> `rb`), sorted, once each.
    pub fn fields(&self) -> Vec<String> {
        fn walk(n: &Node, out: &mut std::collections::BTreeSet<String>) {
            match n {
                Node::Field(f) => {
                    out.insert(f.to_string());
                }
                Node::Not(a) | Node::Neg(a) => walk(a, out),
                Node::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Node::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                Node::Lit(_) | Node::Var(_) => {}
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for (_, n) in &self.clauses {
            walk(n, &mut out);
        }
        out.into_iter().collect()
    }

    /// `Ok(())` when true; otherwise the first top-level clause that was not
    /// true, and what it evaluated to.
    pub fn check(&self, alert: &Alert) -> Result<(), String> {
        let ctx = Ctx { alert };
        for (text, node) in &self.clauses {
            let v = eval(node, &ctx);
            if !v.truthy() {
                let got = match v {
                    V::Null => "null".to_string(),
                    V::Bool(b) => b.to_string(),
                    V::Num(n) => format!("the number {n}, not a boolean"),
                    V::Str(s) => format!("the string {s:?}, not a boolean"),
                };
                return Err(format!("`{text}` is {got}"));
            }
        }
        Ok(())
    }
}

fn field(ctx: &Ctx, name: &str) -> V {
    match ctx.alert.latest().body.get(name) {
        None | Some(Value::Null) => V::Null,
        Some(Value::Bool(b)) => V::Bool(*b),
        Some(Value::Int(i)) => V::Num(*i as f64),
        Some(Value::Float(f)) => V::Num(*f),
        Some(Value::Str(s)) => V::Str(s.clone()),
        Some(Value::Bytes(_)) => V::Null,
    }
}

fn det_jds<'a>(ctx: &Ctx<'a>) -> impl Iterator<Item = f64> + 'a {
    ctx.alert.detections().filter_map(|d| d.body.f64("jd"))
}

fn var(ctx: &Ctx, v: Var) -> V {
    let count =
        |k: DataPointKind| ctx.alert.datapoints.iter().filter(|d| d.kind == k).count() as f64;
    let num = |o: Option<f64>| o.map_or(V::Null, V::Num);
    match v {
        Var::Ndet => V::Num(count(DataPointKind::Detection)),
        Var::Nupper => V::Num(count(DataPointKind::UpperLimit)),
        Var::Nforced => V::Num(count(DataPointKind::Forced)),
        Var::Ndp => V::Num(ctx.alert.datapoints.len() as f64),
        Var::Tspan => {
            let (lo, hi) = det_jds(ctx).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                (l.min(x), h.max(x))
            });
            num((hi >= lo).then_some(hi - lo))
        }
        Var::JdFirst => num(det_jds(ctx).reduce(f64::min)),
        Var::JdLast => num(det_jds(ctx).reduce(f64::max)),
        Var::GalLat | Var::GalLon => {
            let b = &ctx.alert.latest().body;
            match (b.f64("ra"), b.f64("dec")) {
                (Some(ra), Some(dec)) => {
                    let (l, lat) = icrs_to_galactic(ra, dec);
                    V::Num(if v == Var::GalLat { lat } else { l })
                }
                _ => V::Null,
            }
        }
    }
}

fn eval(n: &Node, ctx: &Ctx) -> V {
    match n {
        Node::Lit(v) => v.clone(),
        Node::Field(f) => field(ctx, f),
        Node::Var(v) => var(ctx, *v),
        Node::Not(a) => V::Bool(!eval(a, ctx).truthy()),
        Node::Neg(a) => match eval(a, ctx) {
            V::Num(x) => V::Num(-x),
            _ => V::Null,
        },
        Node::Bin(BinOp::And, a, b) => V::Bool(eval(a, ctx).truthy() && eval(b, ctx).truthy()),
        Node::Bin(BinOp::Or, a, b) => V::Bool(eval(a, ctx).truthy() || eval(b, ctx).truthy()),
        Node::Bin(op, a, b) => {
            let (a, b) = (eval(a, ctx), eval(b, ctx));
            match op {
                BinOp::Eq => V::Bool(a == b),
                BinOp::Ne => V::Bool(a != b),
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    let ord = match (&a, &b) {
                        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
                        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
                        _ => None,
                    };
                    V::Bool(ord.is_some_and(|o| match op {
                        BinOp::Lt => o.is_lt(),
                        BinOp::Le => o.is_le(),
                        BinOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }))
                }
                _ => match (a, b) {
                    (V::Num(x), V::Num(y)) => V::Num(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                        _ => x % y,
                    }),
                    _ => V::Null,
                },
            }
        }
        Node::Call(Func::Exists, args) => V::Bool(!matches!(eval(&args[0], ctx), V::Null)),
        Node::Call(f, args) => {
            let nums: Option<Vec<f64>> = args
                .iter()
                .map(|a| match eval(a, ctx) {
                    V::Num(x) => Some(x),
                    _ => None,
                })
                .collect();
            let Some(xs) = nums else { return V::Null };
            V::Num(match f {
                Func::Abs => xs[0].abs(),
                Func::Sqrt => xs[0].sqrt(),
                Func::Log10 => xs[0].log10(),
                Func::Min => xs.into_iter().fold(f64::INFINITY, f64::min),
                _ => xs.into_iter().fold(f64::NEG_INFINITY, f64::max),
            })
        }
    }
}
