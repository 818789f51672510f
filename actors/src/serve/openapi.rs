//! The OpenAPI 3.0 document of `/api/v1`, served at
//! `/api/v1/openapi.json` and checked against the answers in CI
//! (schemathesis).

use super::view::{COLS_PATTERN, SORT_PATTERN};
use serde_json::{json, Value as Json};

fn id_pair(name: &str) -> (String, Json, String, Json) {
    (
        name.to_string(),
        json!({"type": "integer", "format": "int64"}),
        format!("{name}_str"),
        json!({"type": "string", "pattern": "^-?[0-9]+$"}),
    )
}

fn with_ids(ids: &[&str], mut props: serde_json::Map<String, Json>, required: &[&str]) -> Json {
    let mut req: Vec<String> = required.iter().map(|s| s.to_string()).collect();
    for id in ids {
        let (n, t, ns, ts) = id_pair(id);
        props.insert(n.clone(), t);
        props.insert(ns.clone(), ts);
        req.push(n);
        req.push(ns);
    }
    json!({"type": "object", "properties": props, "required": req})
}

fn obj(v: Json) -> serde_json::Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

fn stock_param() -> Json {
    json!({"name": "id", "in": "path", "required": true,
           "description": "stock id or survey name (e.g. ZTF23abfcbgc)",
           "schema": {"type": "string", "minLength": 1}})
}

fn answer(schema: &str, what: &str) -> Json {
    json!({
        "200": {"description": what,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
        "404": {"description": "no such stock or channel",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "400": {"description": "a bad parameter",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    })
}

pub fn document() -> Json {
    let page = json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": i32::MAX});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "AMPEL archive (read-only)", "version": "1"},
        "paths": {
            "/api/v1/stocks": {"get": {
                "summary": "A channel's stocks, newest first, paged",
                "parameters": [
                    {"name": "channel", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}},
                    {"name": "page", "in": "query", "schema": page},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {"name": "sort", "in": "query", "schema": {"type": "string", "pattern": SORT_PATTERN}},
                    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
                    {"name": "cols", "in": "query", "schema": {"type": "string", "pattern": COLS_PATTERN}},
                ],
                "responses": answer("StockPage", "a page of stocks"),
            }},
            "/api/v1/stocks/{id}": {"get": {
                "summary": "One stock", "parameters": [stock_param()],
                "responses": answer("Stock", "the stock"),
            }},
            "/api/v1/stocks/{id}/lightcurve": {"get": {
                "summary": "A stock's light curve", "parameters": [stock_param()],
                "responses": answer("LightCurve", "the light curve"),
            }},
            "/api/v1/stocks/{id}/t2": {"get": {
                "summary": "A stock's T2 documents", "parameters": [stock_param()],
                "responses": answer("T2Documents", "the T2 documents"),
            }},
            "/api/v1/events": {"get": {
                "summary": "Runs and archive totals",
                "responses": {"200": {"description": "runs", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Events"}}}}},
            }},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Stock": with_ids(&["stock"], obj(json!({
                "name": {"type": "string"},
                "names": {"type": "array", "items": {"type": "string"}},
                "channels": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "updated": {"type": "number"},
                "datapoints": {"type": "integer", "minimum": 0},
                "links": {"type": "array", "items": {"type": "object",
                    "properties": {"label": {"type": "string"}, "url": {"type": "string"}}}},
                "latest_jd": {"type": "number", "nullable": true},
                "latest_cutout_alert": {"type": "integer", "format": "int64", "nullable": true},
                "latest_cutout_alert_str": {"type": "string", "nullable": true},
                "journal": {"type": "array", "items": {"type": "object"}},
            })), &["name", "channels", "tags", "journal", "datapoints"]),
            "LightCurve": with_ids(&["stock"], obj(json!({
                "unplotted": {"type": "integer", "minimum": 0},
                "points": {"type": "array", "items": with_ids(&["id"], obj(json!({
                    "jd": {"type": "number"}, "band": {"type": "string"}, "mag": {"type": "number"},
                    "mag_err": {"type": "number", "nullable": true}, "upper_limit": {"type": "boolean"},
                })), &["jd", "band", "mag", "upper_limit"])},
            })), &["points"]),
            "T2Documents": with_ids(&["stock"], obj(json!({
                "t2": {"type": "array", "items": with_ids(&["stock", "link", "config"], obj(json!({
                    "unit": {"type": "string"}, "code": {"type": "integer"}, "code_name": {"type": "string"},
                    "channel": {"type": "array", "items": {"type": "string"}},
                    "body": {"type": "array"}, "meta": {"type": "array"},
                })), &["unit", "code", "code_name", "body"])},
            })), &["t2"]),
            "StockPage": {"type": "object", "required": ["channel", "total", "page", "pages", "stocks"], "properties": {
                "channel": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1}, "pages": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer"}, "sort": {"type": "string"},
                "order": {"type": "string", "enum": ["asc", "desc"]},
                "columns": {"type": "array", "items": {"type": "string"}},
                "stocks": {"type": "array", "items": with_ids(&["stock"], obj(json!({
                    "name": {"type": "string"}, "updated": {"type": "number"}, "values": {"type": "array"},
                })), &["name", "updated"])},
            }},
            "Events": {"type": "object", "required": ["runs", "events"], "properties": {
                "runs": {"type": "integer", "minimum": 0},
                "events": {"type": "array", "items": {"type": "object", "required": ["run", "code"],
                    "properties": {"run": {"type": "integer"}, "code": {"type": "integer"}}}},
                "channels": {"type": "object", "additionalProperties": {"type": "integer"}},
                "t2_outcomes": {"type": "array", "items": {"type": "object"}},
                "dead_letters": {"type": "integer", "minimum": 0},
                "reactions": {"type": "object", "additionalProperties": {"type": "integer"}},
            }},
        }},
    })
}
