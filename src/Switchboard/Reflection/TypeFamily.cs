using System.Text.Json.Serialization;

namespace Switchboard.Reflection;

/// <summary>
/// A dialect-independent classification of a column type, so that <c>integer</c> on PostgreSQL, <c>int(11)</c> on
/// MariaDB and <c>INTEGER</c> on SQLite compare equal. Sizes within a family (int vs bigint) are not part of the family;
/// compare declared types for those.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<TypeFamily>))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The families are named in SQL's vocabulary (integer, decimal, float, string).")]
public enum TypeFamily
{
    /// <summary>Anything not listed below: arrays, intervals, ranges, geometry, network addresses, XML, untyped SQLite columns.</summary>
    [JsonStringEnumMemberName("other")]
    Other,

    /// <summary>Whole numbers of any size (smallint … bigint, SQLite INTEGER).</summary>
    [JsonStringEnumMemberName("integer")]
    Integer,

    /// <summary>Exact numbers with precision and scale (numeric, decimal, money).</summary>
    [JsonStringEnumMemberName("decimal")]
    Decimal,

    /// <summary>Approximate numbers (real, double precision, float).</summary>
    [JsonStringEnumMemberName("float")]
    Float,

    /// <summary>Text of any length, including enums (their values are text labels).</summary>
    [JsonStringEnumMemberName("string")]
    String,

    /// <summary>Bytes (bytea, blob, varbinary, bit strings).</summary>
    [JsonStringEnumMemberName("binary")]
    Binary,

    /// <summary>True/false (PostgreSQL boolean, MySQL <c>tinyint(1)</c>, SQLite BOOLEAN).</summary>
    [JsonStringEnumMemberName("boolean")]
    Boolean,

    [JsonStringEnumMemberName("date")]
    Date,

    /// <summary>Time of day, with or without a time zone.</summary>
    [JsonStringEnumMemberName("time")]
    Time,

    /// <summary>Date and time, with or without a time zone (timestamp, timestamptz, datetime).</summary>
    [JsonStringEnumMemberName("timestamp")]
    Timestamp,

    [JsonStringEnumMemberName("uuid")]
    Uuid,

    /// <summary>JSON documents (json, jsonb, MariaDB's JSON alias for LONGTEXT with a json_valid check).</summary>
    [JsonStringEnumMemberName("json")]
    Json,
}
