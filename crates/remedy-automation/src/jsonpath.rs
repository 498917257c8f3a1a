//! The JSONPath subset runbooks use in `Selector` / `PropertySelector`.
//!
//! Supported: `$`, `.field`, `['field']` / `["field"]`, `[n]` (negative counts from the end),
//! `[*]` / `.*`, and filters `[?(@.A == 'x' && (@.B != 1 || !@.C))]` with `== != < <= > >=`,
//! `&&`, `||`, `!`, parentheses, `@`-relative paths and string / number / `true` / `false` /
//! `null` literals. A path with a wildcard or filter is *indefinite* and selects a list (possibly
//! empty); a definite path selects one value or nothing. Filters let a runbook pick, say, the
//! world-open rules out of `DescribeSecurityGroupRules` without `aws:executeScript`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Filter(Expr),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Segment>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, String, Operand),
    Exists(Operand),
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    segments: Vec<Segment>,
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ') {
            self.pos += 1;
        }
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.text[self.pos..].starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at position {}", self.pos))
    }
    fn ident(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| {
            c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'$' || c >= 0x80
        }) {
            self.pos += 1;
        }
        if start == self.pos {
            return self.err("expected a field name");
        }
        Ok(self.text[start..self.pos].to_string())
    }
    fn quoted(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or("unexpected end")?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.text[self.pos..].chars().next() {
                None => return self.err("unterminated string"),
                Some('\\') => {
                    self.pos += 1;
                    let c = self.text[self.pos..]
                        .chars()
                        .next()
                        .ok_or("unterminated string")?;
                    out.push(c);
                    self.pos += c.len_utf8();
                }
                Some(c) if c as u32 == u32::from(q) => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }
    /// Segments after `$` or `@`, stopping at anything that is not `.` or `[`.
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, String> {
        let mut segs = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    if self.peek() == Some(b'.') {
                        return self.err("recursive descent (..) is not supported");
                    }
                    if self.eat("*") {
                        segs.push(Segment::Wildcard);
                    } else {
                        segs.push(Segment::Field(self.ident()?));
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    match self.peek() {
                        Some(b'*') => {
                            self.pos += 1;
                            segs.push(Segment::Wildcard);
                        }
                        Some(b'\'') | Some(b'"') => segs.push(Segment::Field(self.quoted()?)),
                        Some(b'?') => {
                            if in_filter {
                                return self.err("nested filters are not supported");
                            }
                            self.pos += 1;
                            self.ws();
                            if !self.eat("(") {
                                return self.err("expected ( after ?");
                            }
                            let e = self.or_expr()?;
                            self.ws();
                            if !self.eat(")") {
                                return self.err("expected ) closing the filter");
                            }
                            segs.push(Segment::Filter(e));
                        }
                        _ => {
                            let start = self.pos;
                            if self.peek() == Some(b'-') {
                                self.pos += 1;
                            }
                            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                                self.pos += 1;
                            }
                            let n: i64 = self.text[start..self.pos]
                                .parse()
                                .map_err(|_| format!("expected an index, a quoted name, * or ?() at position {start}"))?;
                            segs.push(Segment::Index(n));
                        }
                    }
                    self.ws();
                    if !self.eat("]") {
                        return self.err("expected ]");
                    }
                }
                _ => return Ok(segs),
            }
        }
    }
    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        loop {
            self.ws();
            if self.eat("||") {
                let right = self.and_expr()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }
    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            self.ws();
            if self.eat("&&") {
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        self.ws();
        if self.peek() == Some(b'!') && self.s.get(self.pos + 1) != Some(&b'=') {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let e = self.or_expr()?;
            self.ws();
            if !self.eat(")") {
                return self.err("expected )");
            }
            return Ok(e);
        }
        let left = self.operand()?;
        self.ws();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                self.ws();
                let right = self.operand()?;
                return Ok(Expr::Cmp(left, op.to_string(), right));
            }
        }
        Ok(Expr::Exists(left))
    }
    fn operand(&mut self) -> Result<Operand, String> {
        self.ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                Ok(Operand::Path(self.segments(true)?))
            }
            Some(b'\'') | Some(b'"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'E')
                {
                    self.pos += 1;
                }
                let n: serde_json::Number = self.text[start..self.pos]
                    .parse()
                    .map_err(|_| format!("bad number at position {start}"))?;
                Ok(Operand::Literal(Value::Number(n)))
            }
            _ => {
                for (w, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.eat(w) {
                        return Ok(Operand::Literal(v));
                    }
                }
                self.err("expected @path or a literal")
            }
        }
    }
}

impl JsonPath {
    /// Parses a selector such as `$.SecurityGroups[0].IpPermissions`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let t = text.trim();
        let mut p = Parser {
            s: t.as_bytes(),
            text: t,
            pos: 0,
        };
        if !p.eat("$") {
            return Err("a selector must start with $".to_string());
        }
        let segments = p.segments(false)?;
        if p.pos != t.len() {
            return p.err("unexpected character");
        }
        Ok(JsonPath { segments })
    }

    /// Whether the path can select several values (has a wildcard or a filter).
    pub fn is_definite(&self) -> bool {
        !self
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Wildcard | Segment::Filter(_)))
    }

    /// Every value the path reaches, in document order.
    pub fn select_all<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        walk(&self.segments, root)
    }

    /// The selection as one value: a definite path gives the value (or `None`); an indefinite
    /// one gives the list of matches (possibly empty).
    pub fn select(&self, root: &Value) -> Option<Value> {
        let found = self.select_all(root);
        if self.is_definite() {
            found.first().map(|v| (*v).clone())
        } else {
            Some(Value::Array(found.into_iter().cloned().collect()))
        }
    }
}

fn walk<'v>(segs: &[Segment], root: &'v Value) -> Vec<&'v Value> {
    let mut cur = vec![root];
    for seg in segs {
        let mut next = Vec::new();
        for v in cur {
            match seg {
                Segment::Field(f) => {
                    if let Some(x) = v.get(f.as_str()) {
                        next.push(x);
                    }
                }
                Segment::Index(i) => {
                    if let Value::Array(a) = v {
                        let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                        if idx >= 0 {
                            if let Some(x) = a.get(idx as usize) {
                                next.push(x);
                            }
                        }
                    }
                }
                Segment::Wildcard => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Segment::Filter(e) => match v {
                    Value::Array(a) => next.extend(a.iter().filter(|x| eval(e, x))),
                    Value::Object(m) => next.extend(m.values().filter(|x| eval(e, x))),
                    _ => {}
                },
            }
        }
        cur = next;
    }
    cur
}

fn operand_value(o: &Operand, at: &Value) -> Option<Value> {
    match o {
        Operand::Literal(v) => Some(v.clone()),
        Operand::Path(segs) => walk(segs, at).first().map(|v| (*v).clone()),
    }
}

fn eval(e: &Expr, at: &Value) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, at) || eval(b, at),
        Expr::And(a, b) => eval(a, at) && eval(b, at),
        Expr::Not(a) => !eval(a, at),
        Expr::Exists(o) => !matches!(
            operand_value(o, at),
            None | Some(Value::Null) | Some(Value::Bool(false))
        ),
        Expr::Cmp(l, op, r) => {
            let (Some(l), Some(r)) = (operand_value(l, at), operand_value(r, at)) else {
                // A missing field is only "not equal".
                return op == "!=";
            };
            match op.as_str() {
                "==" => json_eq(&l, &r),
                "!=" => !json_eq(&l, &r),
                _ => {
                    let ord = match (&l, &r) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                        _ => None,
                    };
                    let Some(ord) = ord else { return false };
                    match op.as_str() {
                        "<" => ord.is_lt(),
                        "<=" => ord.is_le(),
                        ">" => ord.is_gt(),
                        _ => ord.is_ge(),
                    }
                }
            }
        }
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(p: &str, v: &Value) -> Option<Value> {
        JsonPath::parse(p).unwrap().select(v)
    }

    #[test]
    fn basics() {
        let v = json!({"Status": "Enabled", "Rules": [{"X": 1}, {"X": 2}], "a b": {"c": true}});
        assert_eq!(sel("$", &v), Some(v.clone()));
        assert_eq!(sel("$.Status", &v), Some(json!("Enabled")));
        assert_eq!(sel("$.Rules[0].X", &v), Some(json!(1)));
        assert_eq!(sel("$.Rules[-1].X", &v), Some(json!(2)));
        assert_eq!(sel("$.Rules[*].X", &v), Some(json!([1, 2])));
        assert_eq!(sel("$['a b'].c", &v), Some(json!(true)));
        assert_eq!(sel("$.Missing", &v), None);
        assert_eq!(sel("$.Rules[5]", &v), None);
        assert_eq!(sel("$.Missing[*]", &v), Some(json!([])));
    }

    #[test]
    fn filters() {
        let v = json!({"R": [
            {"Id": "a", "IsEgress": false, "CidrIpv4": "0.0.0.0/0", "Port": 22},
            {"Id": "b", "IsEgress": false, "CidrIpv6": "::/0", "Port": 80},
            {"Id": "c", "IsEgress": true, "CidrIpv4": "0.0.0.0/0", "Port": 443},
            {"Id": "d", "IsEgress": false, "CidrIpv4": "10.0.0.0/8", "Port": 22}
        ]});
        assert_eq!(
            sel("$.R[?(@.IsEgress == false && (@.CidrIpv4 == '0.0.0.0/0' || @.CidrIpv6 == \"::/0\"))].Id", &v),
            Some(json!(["a", "b"]))
        );
        assert_eq!(sel("$.R[?(@.Port > 22)].Id", &v), Some(json!(["b", "c"])));
        assert_eq!(sel("$.R[?(@.CidrIpv6)].Id", &v), Some(json!(["b"])));
        assert_eq!(
            sel("$.R[?(!@.IsEgress)].Id", &v),
            Some(json!(["a", "b", "d"]))
        );
        assert_eq!(
            sel("$.R[?(@.CidrIpv6 != '::/0')].Id", &v),
            Some(json!(["a", "c", "d"]))
        );
    }

    #[test]
    fn bad_paths() {
        for p in [
            "Status",
            "$..x",
            "$.",
            "$[",
            "$[abc]",
            "$.a[?(@.x == )]",
            "$ x",
        ] {
            assert!(JsonPath::parse(p).is_err(), "{p} should be refused");
        }
    }
}
