//! Hand-written parser for the KalamDB-only statements (PROTOCOL §5.2-§5.5) that `sqlparser`
//! does not know. Returns Ok(None) for anything that is not one of them, so the caller can try
//! the standard parser next.

use crate::users::Role;

#[derive(Debug, PartialEq)]
pub enum KalamStatement {
    CreateNamespace {
        name: String,
        if_not_exists: bool,
    },
    DropNamespace {
        name: String,
        if_exists: bool,
    },
    /// A table-type keyword (`USER`, `SHARED`, `STREAM`) was removed; `standard_sql` is the
    /// remaining `CREATE TABLE ...` for sqlparser.
    CreateTypedTable {
        table_type: String,
        standard_sql: String,
    },
    CreateUser {
        name: String,
        auth: UserAuth,
        role: Role,
        email: Option<String>,
    },
    AlterUser {
        name: String,
        change: UserChange,
    },
    DropUser {
        name: String,
        if_exists: bool,
    },
    CreateTopic {
        topic: String,
        partitions: u32,
    },
    DropTopic {
        topic: String,
        if_exists: bool,
    },
    ClearTopic {
        topic: String,
    },
    AddTopicSource {
        topic: String,
        table: String,
        op: String,
        payload_mode: String,
        filter: Option<String>,
    },
    Consume {
        topic: String,
        group: Option<String>,
        position: ConsumePosition,
        limit: u64,
    },
    Ack {
        topic: String,
        group: String,
        partition: u32,
        offset: u64,
    },
}

#[derive(Debug, PartialEq)]
pub enum UserAuth {
    Password(String),
    OAuth(String),
    Internal,
}

#[derive(Debug, PartialEq)]
pub enum UserChange {
    Password(String),
    Role(Role),
    Email(String),
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum ConsumePosition {
    Latest,
    Earliest,
    Offset(u64),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            toks.push(Tok::Str(s));
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            toks.push(Tok::Word(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '.'
                    || chars[i] == '-')
            {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(toks)
}

struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(format!("Expected {kw}, found {}", self.describe()))
        }
    }
    fn eat_punct(&mut self, p: char) -> bool {
        if self.toks.get(self.pos) == Some(&Tok::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn describe(&self) -> String {
        match self.toks.get(self.pos) {
            None => "end of statement".into(),
            Some(Tok::Word(w)) | Some(Tok::Num(w)) => w.clone(),
            Some(Tok::Str(s)) => format!("'{s}'"),
            Some(Tok::Punct(c)) => c.to_string(),
        }
    }
    /// A name: bare word or quoted string.
    fn name(&mut self) -> Result<String, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => {
                self.pos += 1;
                Ok(w)
            }
            _ => Err(format!("Expected a name, found {}", self.describe())),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(format!(
                "Expected a quoted string, found {}",
                self.describe()
            )),
        }
    }
    fn number(&mut self) -> Result<u64, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                n.parse().map_err(|_| format!("Number out of range: {n}"))
            }
            _ => Err(format!("Expected a number, found {}", self.describe())),
        }
    }
    fn done(&self) -> Result<(), String> {
        if self.pos >= self.toks.len() {
            Ok(())
        } else {
            Err(format!(
                "Unexpected {} after end of statement",
                self.describe()
            ))
        }
    }
    fn if_not_exists(&mut self) -> bool {
        if self.peek_kw("IF") {
            let save = self.pos;
            self.pos += 1;
            if self.eat_kw("NOT") && self.eat_kw("EXISTS") {
                return true;
            }
            self.pos = save;
        }
        false
    }
    fn if_exists(&mut self) -> bool {
        if self.peek_kw("IF") {
            let save = self.pos;
            self.pos += 1;
            if self.eat_kw("EXISTS") {
                return true;
            }
            self.pos = save;
        }
        false
    }
}

/// Parses a KalamDB-only statement. Ok(None): not one of ours (try sqlparser).
pub fn parse(sql: &str) -> Result<Option<KalamStatement>, String> {
    let head: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let h = |i: usize| head.get(i).map(String::as_str).unwrap_or("");
    let ours = matches!(
        (h(0), h(1)),
        ("CREATE", "NAMESPACE")
            | ("DROP", "NAMESPACE")
            | ("CREATE", "USER")
            | ("CREATE", "SHARED")
            | ("CREATE", "STREAM")
            | ("ALTER", "USER")
            | ("DROP", "USER")
            | ("CREATE", "TOPIC")
            | ("DROP", "TOPIC")
            | ("CLEAR", "TOPIC")
            | ("ALTER", "TOPIC")
            | ("CONSUME", _)
            | ("ACK", _)
    );
    if !ours {
        return Ok(None);
    }
    // CREATE USER TABLE / CREATE SHARED TABLE / CREATE STREAM TABLE: strip the type word.
    if h(0) == "CREATE" && matches!(h(1), "USER" | "SHARED" | "STREAM") && h(2) == "TABLE" {
        let rest = strip_words(sql, 2);
        return Ok(Some(KalamStatement::CreateTypedTable {
            table_type: h(1).to_string(),
            standard_sql: format!("CREATE {rest}"),
        }));
    }
    if h(0) == "CREATE" && matches!(h(1), "SHARED" | "STREAM") {
        return Err(format!("Expected TABLE after CREATE {}", h(1)));
    }
    let mut c = Cursor {
        toks: tokenize(sql)?,
        pos: 0,
    };
    let verb = c.name()?.to_ascii_uppercase();
    let object = c.name()?.to_ascii_uppercase();
    let stmt = match (verb.as_str(), object.as_str()) {
        ("CREATE", "NAMESPACE") => {
            let if_not_exists = c.if_not_exists();
            KalamStatement::CreateNamespace {
                name: c.name()?,
                if_not_exists,
            }
        }
        ("DROP", "NAMESPACE") => {
            let if_exists = c.if_exists();
            let name = c.name()?;
            c.eat_kw("CASCADE");
            KalamStatement::DropNamespace { name, if_exists }
        }
        ("CREATE", "USER") => parse_create_user(&mut c)?,
        ("ALTER", "USER") => {
            let name = c.name()?;
            c.expect_kw("SET")?;
            let change = if c.eat_kw("PASSWORD") {
                UserChange::Password(c.string()?)
            } else if c.eat_kw("ROLE") {
                UserChange::Role(parse_role(&c.name()?)?)
            } else if c.eat_kw("EMAIL") {
                UserChange::Email(c.string()?)
            } else {
                return Err(format!(
                    "Expected PASSWORD, ROLE or EMAIL, found {}",
                    c.describe()
                ));
            };
            KalamStatement::AlterUser { name, change }
        }
        ("DROP", "USER") => {
            let if_exists = c.if_exists();
            KalamStatement::DropUser {
                name: c.name()?,
                if_exists,
            }
        }
        ("CREATE", "TOPIC") => {
            let topic = c.name()?;
            let partitions = if c.eat_kw("PARTITIONS") {
                c.number()?
            } else {
                1
            };
            if partitions == 0 || partitions > 1024 {
                return Err("PARTITIONS must be between 1 and 1024".into());
            }
            KalamStatement::CreateTopic {
                topic,
                partitions: partitions as u32,
            }
        }
        ("DROP", "TOPIC") => {
            let if_exists = c.if_exists();
            KalamStatement::DropTopic {
                topic: c.name()?,
                if_exists,
            }
        }
        ("CLEAR", "TOPIC") => KalamStatement::ClearTopic { topic: c.name()? },
        ("ALTER", "TOPIC") => parse_add_source(&mut c)?,
        ("CONSUME", "FROM") => parse_consume(&mut c)?,
        ("CONSUME", other) => return Err(format!("Expected FROM after CONSUME, found {other}")),
        ("ACK", _) => {
            let topic = object_original(&c, 1);
            c.expect_kw("GROUP")?;
            let group = c.name()?;
            let partition = if c.eat_kw("PARTITION") {
                c.number()? as u32
            } else {
                0
            };
            c.expect_kw("UPTO")?;
            c.expect_kw("OFFSET")?;
            let offset = c.number()?;
            KalamStatement::Ack {
                topic,
                group,
                partition,
                offset,
            }
        }
        _ => return Ok(None),
    };
    c.eat_punct(';');
    c.done()?;
    Ok(Some(stmt))
}

/// The original spelling of token `idx` (the object after the verb is upper-cased above).
fn object_original(c: &Cursor, idx: usize) -> String {
    match c.toks.get(idx) {
        Some(Tok::Word(w)) | Some(Tok::Str(w)) | Some(Tok::Num(w)) => w.clone(),
        _ => String::new(),
    }
}

fn strip_words(sql: &str, n: usize) -> &str {
    let mut rest = sql.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

pub fn parse_role(word: &str) -> Result<Role, String> {
    Role::from_sql_word(word).ok_or_else(|| format!("Invalid role '{word}'"))
}

fn parse_create_user(c: &mut Cursor) -> Result<KalamStatement, String> {
    let name = c.name()?;
    c.expect_kw("WITH")?;
    let auth = if c.eat_kw("PASSWORD") {
        UserAuth::Password(c.string()?)
    } else if c.eat_kw("OAUTH") {
        UserAuth::OAuth(c.string()?)
    } else if c.eat_kw("INTERNAL") {
        UserAuth::Internal
    } else {
        return Err(format!(
            "Expected PASSWORD, OAUTH or INTERNAL, found {}",
            c.describe()
        ));
    };
    let mut role = Role::User;
    let mut email = None;
    loop {
        if c.eat_kw("ROLE") {
            role = parse_role(&c.name()?)?;
        } else if c.eat_kw("EMAIL") {
            email = Some(c.string()?);
        } else {
            break;
        }
    }
    Ok(KalamStatement::CreateUser {
        name,
        auth,
        role,
        email,
    })
}

fn parse_add_source(c: &mut Cursor) -> Result<KalamStatement, String> {
    let topic = c.name()?;
    c.expect_kw("ADD")?;
    c.expect_kw("SOURCE")?;
    let table = c.name()?;
    c.expect_kw("ON")?;
    let op = c.name()?.to_ascii_lowercase();
    if !matches!(op.as_str(), "insert" | "update" | "delete") {
        return Err(format!("Expected INSERT, UPDATE or DELETE, found {op}"));
    }
    let mut filter = None;
    if c.eat_kw("WHERE") {
        // Stored, never evaluated (PROTOCOL §4.1): keep the tokens up to WITH as text.
        let mut parts = Vec::new();
        while c.pos < c.toks.len() && !c.peek_kw("WITH") {
            parts.push(c.describe());
            c.pos += 1;
        }
        filter = Some(parts.join(" "));
    }
    let mut payload_mode = "full".to_string();
    if c.eat_kw("WITH") {
        if !c.eat_punct('(') {
            return Err("Expected ( after WITH".into());
        }
        loop {
            let key = c.name()?.to_ascii_lowercase();
            if !c.eat_punct('=') {
                return Err("Expected = in WITH options".into());
            }
            let value = c.name()?.to_ascii_lowercase();
            if key == "payload" {
                if !matches!(value.as_str(), "full" | "key" | "diff") {
                    return Err(format!("Invalid payload mode '{value}'"));
                }
                payload_mode = value;
            }
            if !c.eat_punct(',') {
                break;
            }
        }
        if !c.eat_punct(')') {
            return Err("Expected ) after WITH options".into());
        }
    }
    Ok(KalamStatement::AddTopicSource {
        topic,
        table,
        op,
        payload_mode,
        filter,
    })
}

fn parse_consume(c: &mut Cursor) -> Result<KalamStatement, String> {
    let topic = c.name()?;
    let mut group = None;
    let mut position = ConsumePosition::Latest;
    let mut limit = 100;
    loop {
        if c.eat_kw("GROUP") {
            group = Some(c.name()?);
        } else if c.eat_kw("FROM") {
            position = if c.eat_kw("LATEST") {
                ConsumePosition::Latest
            } else if c.eat_kw("EARLIEST") {
                ConsumePosition::Earliest
            } else {
                ConsumePosition::Offset(c.number()?)
            };
        } else if c.eat_kw("LIMIT") {
            limit = c.number()?;
        } else {
            break;
        }
    }
    Ok(KalamStatement::Consume {
        topic,
        group,
        position,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespace_user_topic_statements() {
        assert_eq!(
            parse("CREATE NAMESPACE IF NOT EXISTS app").unwrap(),
            Some(KalamStatement::CreateNamespace {
                name: "app".into(),
                if_not_exists: true
            })
        );
        assert_eq!(
            parse("CREATE USER 'worker1' WITH PASSWORD 'it''s' ROLE service EMAIL 'w@x'").unwrap(),
            Some(KalamStatement::CreateUser {
                name: "worker1".into(),
                auth: UserAuth::Password("it's".into()),
                role: Role::Service,
                email: Some("w@x".into())
            })
        );
        assert_eq!(
            parse("create topic app.events partitions 4").unwrap(),
            Some(KalamStatement::CreateTopic {
                topic: "app.events".into(),
                partitions: 4
            })
        );
        assert_eq!(
            parse("ALTER TOPIC app.events ADD SOURCE app.orders ON UPDATE WITH (payload = 'key')")
                .unwrap(),
            Some(KalamStatement::AddTopicSource {
                topic: "app.events".into(),
                table: "app.orders".into(),
                op: "update".into(),
                payload_mode: "key".into(),
                filter: None
            })
        );
        assert_eq!(
            parse("ACK app.events GROUP 'g' PARTITION 1 UPTO OFFSET 7").unwrap(),
            Some(KalamStatement::Ack {
                topic: "app.events".into(),
                group: "g".into(),
                partition: 1,
                offset: 7
            })
        );
        assert_eq!(
            parse("ALTER USER bob SET ROLE admin").unwrap(),
            Some(KalamStatement::AlterUser {
                name: "bob".into(),
                change: UserChange::Role(Role::Dba)
            })
        );
        assert!(parse("SELECT 1").unwrap().is_none());
        assert!(parse("CREATE TABLE app.t (id INT)").unwrap().is_none());
        assert!(parse("CREATE TOPIC app.t PARTITIONS x").is_err());
    }

    #[test]
    fn strips_table_type_keyword() {
        match parse("CREATE STREAM TABLE app.s (k TEXT) WITH (TTL_SECONDS = 10)").unwrap() {
            Some(KalamStatement::CreateTypedTable {
                table_type,
                standard_sql,
            }) => {
                assert_eq!(table_type, "STREAM");
                assert_eq!(
                    standard_sql,
                    "CREATE TABLE app.s (k TEXT) WITH (TTL_SECONDS = 10)"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
