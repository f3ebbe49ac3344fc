using System.Globalization;
using System.Text;

namespace Switchboard;

/// <summary>One host of a database URL; <see cref="Port"/> is null when the URL leaves it to the dialect's default.</summary>
public sealed record DatabaseHost(string Host, int? Port)
{
    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host;
        return Port is { } p ? host + ":" + p.ToString(CultureInfo.InvariantCulture) : host;
    }
}

/// <summary>
/// A parsed database URL in the SQLAlchemy style: <c>backend[+driver]://user:password@host[:port][,host2[:port]]/database?key=value</c>,
/// or for SQLite <c>sqlite:///relative.db</c>, <c>sqlite:////absolute/path.db</c>, <c>sqlite://:memory:</c>.
/// Every component is percent-decoded. <see cref="ToString"/> masks the password.
/// </summary>
public sealed class DatabaseUrl
{
    private DatabaseUrl(string backend, string? driver, string? user, string? password, IReadOnlyList<DatabaseHost> hosts,
        string? database, IReadOnlyList<KeyValuePair<string, string>> query)
    {
        Backend = backend;
        Driver = driver;
        UserName = user;
        Password = password;
        Hosts = hosts;
        Database = database;
        Query = query;
    }

    /// <summary>The backend part of the scheme, lower-cased: <c>postgresql</c>, <c>mysql</c>, <c>mariadb</c>, <c>sqlite</c>…</summary>
    public string Backend { get; }

    /// <summary>The driver part of the scheme (<c>npgsql</c> in <c>postgresql+npgsql://</c>), informational only.</summary>
    public string? Driver { get; }

    public string? UserName { get; }

    /// <summary>The decoded password. Never written to logs or messages by Switchboard.</summary>
    public string? Password { get; }

    /// <summary>The hosts in the order given; empty for SQLite.</summary>
    public IReadOnlyList<DatabaseHost> Hosts { get; }

    /// <summary>The database name, or for SQLite the file path (or <c>:memory:</c>).</summary>
    public string? Database { get; }

    /// <summary>Query parameters in the order given; passed to the dialect as provider options.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Query { get; }

    /// <summary>Whether this is a SQLite in-memory database.</summary>
    public bool IsInMemory => Backend == "sqlite" && Database == ":memory:";

    /// <summary>Parses a URL or throws <see cref="DatabaseUrlException"/> naming the position of the first problem.</summary>
    public static DatabaseUrl Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return TryParse(url, out var result, out var error) ? result! : throw error!;
    }

    /// <summary>Parses a URL; on failure <paramref name="error"/> says where and why, with the password masked.</summary>
    public static bool TryParse(string url, out DatabaseUrl? result, out DatabaseUrlException? error)
    {
        ArgumentNullException.ThrowIfNull(url);
        var parser = new Parser(url);
        result = parser.Run();
        error = parser.Error;
        return result is not null;
    }

    /// <summary>Whether a URL-looking string starts with a <c>scheme://</c>.</summary>
    public static bool LooksLikeUrl(string? text) =>
        text is not null && text.AsSpan().TrimStart().IndexOf("://", StringComparison.Ordinal) is > 0 and < 40;

    /// <summary>The URL with the password masked.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Backend);
        if (Driver is not null)
        {
            sb.Append('+').Append(Driver);
        }

        sb.Append("://");
        if (Backend == "sqlite")
        {
            sb.Append(Database == ":memory:" ? ":memory:" : "/" + Database);
        }
        else
        {
            if (UserName is not null)
            {
                sb.Append(Uri.EscapeDataString(UserName));
                if (Password is not null)
                {
                    sb.Append(':').Append(SecretMasker.Mask);
                }

                sb.Append('@');
            }

            sb.AppendJoin(',', Hosts);
            if (Database is not null)
            {
                sb.Append('/').Append(Uri.EscapeDataString(Database));
            }
        }

        for (var i = 0; i < Query.Count; i++)
        {
            var (k, v) = Query[i];
            sb.Append(i == 0 ? '?' : '&').Append(Uri.EscapeDataString(k)).Append('=')
              .Append(SecretMasker.IsSecretKey(k) ? SecretMasker.Mask : Uri.EscapeDataString(v));
        }

        return sb.ToString();
    }

    private sealed class Parser(string text)
    {
        private readonly string _text = text;

        public DatabaseUrlException? Error { get; private set; }

        public DatabaseUrl? Run()
        {
            var start = 0;
            var end = _text.Length;
            while (start < end && char.IsWhiteSpace(_text[start]))
            {
                start++;
            }

            while (end > start && char.IsWhiteSpace(_text[end - 1]))
            {
                end--;
            }

            if (start == end)
            {
                return Fail(0, "the URL is empty");
            }

            for (var i = start; i < end; i++)
            {
                if (char.IsControl(_text[i]) || _text[i] == ' ')
                {
                    return Fail(i, "whitespace or control characters must be percent-encoded");
                }
            }

            var sep = _text.IndexOf("://", start, end - start, StringComparison.Ordinal);
            if (sep < 0)
            {
                return Fail(start, "expected 'scheme://' (for example postgresql://user@host/db or sqlite:///app.db)");
            }

            if (sep == start)
            {
                return Fail(start, "the scheme before '://' is empty");
            }

            var scheme = _text[start..sep].ToLowerInvariant();
            for (var i = 0; i < scheme.Length; i++)
            {
                var c = scheme[i];
                var ok = char.IsAsciiLetter(c) || (i > 0 && (char.IsAsciiDigit(c) || c is '+' or '-' or '.' or '_'));
                if (!ok)
                {
                    return Fail(start + i, $"invalid character '{c}' in the scheme");
                }
            }

            string backend = scheme, driver = null!;
            var plus = scheme.IndexOf('+', StringComparison.Ordinal);
            if (plus >= 0)
            {
                backend = scheme[..plus];
                driver = scheme[(plus + 1)..];
                if (driver.Length == 0 || driver.Contains('+', StringComparison.Ordinal))
                {
                    return Fail(start + plus, "the driver after '+' in the scheme is empty or repeated");
                }
            }

            var bodyStart = sep + 3;
            var queryStart = _text.IndexOf('?', bodyStart, end - bodyStart);
            var bodyEnd = queryStart < 0 ? end : queryStart;
            List<KeyValuePair<string, string>> query = [];
            if (queryStart >= 0 && !ParseQuery(queryStart + 1, end, query))
            {
                return null;
            }

            return backend == "sqlite"
                ? ParseSqlite(backend, driver, bodyStart, bodyEnd, query)
                : ParseNetwork(backend, driver, bodyStart, bodyEnd, query);
        }

        private DatabaseUrl? ParseSqlite(string backend, string? driver, int from, int to, List<KeyValuePair<string, string>> query)
        {
            var body = _text[from..to];
            if (body.Length == 0 || body is ":memory:" or "/:memory:")
            {
                return new DatabaseUrl(backend, driver, null, null, [], ":memory:", query);
            }

            if (body[0] != '/')
            {
                return Fail(from, "a sqlite URL has no host: write sqlite:///relative.db, sqlite:////absolute/path.db or sqlite://:memory:");
            }

            var path = Decode(from + 1, to, "the file path");
            if (path is null)
            {
                return null;
            }

            return path.Length == 0
                ? Fail(from + 1, "the file path is empty")
                : new DatabaseUrl(backend, driver, null, null, [], path, query);
        }

        private DatabaseUrl? ParseNetwork(string backend, string? driver, int from, int to, List<KeyValuePair<string, string>> query)
        {
            // The user-info ends at the last '@' so that an unencoded '@' or '/' in a password still parses.
            var at = _text.LastIndexOf('@', to - 1, to - from);
            string? user = null, password = null;
            var hostStart = from;
            if (at >= from)
            {
                var colon = _text.IndexOf(':', from, at - from);
                var userEnd = colon < 0 ? at : colon;
                user = Decode(from, userEnd, "the user name");
                if (user is null)
                {
                    return null;
                }

                if (user.Length == 0)
                {
                    return Fail(from, "the user name before '@' is empty");
                }

                if (colon >= 0)
                {
                    password = Decode(colon + 1, at, "the password");
                    if (password is null)
                    {
                        return null;
                    }
                }

                hostStart = at + 1;
            }

            var slash = _text.IndexOf('/', hostStart, to - hostStart);
            var hostEnd = slash < 0 ? to : slash;
            List<DatabaseHost> hosts = [];
            if (hostEnd == hostStart)
            {
                return Fail(hostStart, "the host is empty");
            }

            var partStart = hostStart;
            for (var i = hostStart; i <= hostEnd; i++)
            {
                if (i == hostEnd || _text[i] == ',')
                {
                    var host = ParseHost(partStart, i);
                    if (host is null)
                    {
                        return null;
                    }

                    hosts.Add(host);
                    partStart = i + 1;
                }
                else if (_text[i] == '[')
                {
                    var close = _text.IndexOf(']', i, hostEnd - i);
                    if (close < 0)
                    {
                        return Fail(i, "'[' of an IPv6 address is not closed by ']'");
                    }

                    i = close;
                }
            }

            string? database = null;
            if (slash >= 0)
            {
                var extra = _text.IndexOf('/', slash + 1, to - slash - 1);
                if (extra >= 0)
                {
                    return Fail(extra, "unexpected '/' in the database name (percent-encode it as %2F)");
                }

                database = Decode(slash + 1, to, "the database name");
                if (database is null)
                {
                    return null;
                }

                if (database.Length == 0)
                {
                    database = null;
                }
            }

            return new DatabaseUrl(backend, driver, user, password, hosts, database, query);
        }

        private DatabaseHost? ParseHost(int from, int to)
        {
            if (from == to)
            {
                return Fail<DatabaseHost>(from, "empty host in the host list");
            }

            string host;
            int portSep;
            if (_text[from] == '[')
            {
                var close = _text.IndexOf(']', from, to - from);
                host = _text[(from + 1)..close];
                if (host.Length == 0 || !host.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.'))
                {
                    return Fail<DatabaseHost>(from + 1, "invalid IPv6 address between '[' and ']'");
                }

                portSep = close + 1 < to ? close + 1 : -1;
                if (portSep >= 0 && _text[portSep] != ':')
                {
                    return Fail<DatabaseHost>(portSep, "expected ':port' after ']'");
                }
            }
            else
            {
                portSep = _text.IndexOf(':', from, to - from);
                var hostEnd = portSep < 0 ? to : portSep;
                for (var i = from; i < hostEnd; i++)
                {
                    var c = _text[i];
                    if (!(char.IsLetterOrDigit(c) || c is '-' or '.' or '_' or '%'))
                    {
                        // Characters are not echoed: without an '@', what looks like a host may be part of a password.
                        return Fail<DatabaseHost>(i, "invalid character in the host name");
                    }
                }

                var decoded = Decode(from, hostEnd, "the host name");
                if (decoded is null)
                {
                    return null;
                }

                if (decoded.Length == 0)
                {
                    return Fail<DatabaseHost>(from, "the host name is empty");
                }

                host = decoded;
            }

            if (portSep < 0)
            {
                return new DatabaseHost(host, null);
            }

            var portText = _text[(portSep + 1)..to];
            if (portText.Length == 0)
            {
                return Fail<DatabaseHost>(portSep + 1, "the port after ':' is empty");
            }

            for (var i = 0; i < portText.Length; i++)
            {
                if (!char.IsAsciiDigit(portText[i]))
                {
                    return Fail<DatabaseHost>(portSep + 1 + i, "the port is not a number");
                }
            }

            if (portText.Length > 5 || int.Parse(portText, CultureInfo.InvariantCulture) is < 1 or > 65535)
            {
                return Fail<DatabaseHost>(portSep + 1, "the port is out of range (1-65535)");
            }

            return new DatabaseHost(host, int.Parse(portText, CultureInfo.InvariantCulture));
        }

        private bool ParseQuery(int from, int to, List<KeyValuePair<string, string>> query)
        {
            var partStart = from;
            for (var i = from; i <= to; i++)
            {
                if (i != to && _text[i] != '&')
                {
                    continue;
                }

                if (i == partStart)
                {
                    if (i == to && i == from)
                    {
                        return true; // a bare trailing '?'
                    }

                    Fail(i, "empty query parameter");
                    return false;
                }

                var eq = _text.IndexOf('=', partStart, i - partStart);
                var key = Decode(partStart, eq < 0 ? i : eq, "a query parameter name");
                if (key is null)
                {
                    return false;
                }

                if (key.Length == 0)
                {
                    Fail(partStart, "a query parameter has no name");
                    return false;
                }

                var value = eq < 0 ? string.Empty : Decode(eq + 1, i, $"the value of query parameter '{key}'");
                if (value is null)
                {
                    return false;
                }

                if (query.Any(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)))
                {
                    Fail(partStart, $"query parameter '{key}' is given twice");
                    return false;
                }

                query.Add(new(key, value));
                partStart = i + 1;
            }

            return true;
        }

        /// <summary>Percent-decodes a range as UTF-8; reports the position of a broken escape.</summary>
        private string? Decode(int from, int to, string what)
        {
            var span = _text.AsSpan(from, to - from);
            if (span.IndexOf('%') < 0)
            {
                return span.ToString();
            }

            var bytes = new List<byte>(span.Length);
            Span<byte> utf8 = stackalloc byte[4];
            for (var i = 0; i < span.Length; i++)
            {
                if (span[i] == '%')
                {
                    if (i + 2 >= span.Length)
                    {
                        Fail(from + i, $"incomplete percent-escape in {what}");
                        return null;
                    }

                    if (!char.IsAsciiHexDigit(span[i + 1]) || !char.IsAsciiHexDigit(span[i + 2]))
                    {
                        // The escape's characters are not echoed: they may be part of a password.
                        Fail(from + i, $"invalid percent-escape in {what} ('%' must be followed by two hex digits)");
                        return null;
                    }

                    bytes.Add(byte.Parse(span.Slice(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                }
                else
                {
                    var n = Encoding.UTF8.GetBytes(span.Slice(i, char.IsHighSurrogate(span[i]) && i + 1 < span.Length ? 2 : 1), utf8);
                    if (n == 2 && char.IsHighSurrogate(span[i]))
                    {
                        i++;
                    }

                    for (var b = 0; b < n; b++)
                    {
                        bytes.Add(utf8[b]);
                    }
                }
            }

            try
            {
                return new UTF8Encoding(false, true).GetString(bytes.ToArray());
            }
            catch (DecoderFallbackException)
            {
                Fail(from, $"{what} is not valid UTF-8 after percent-decoding");
                return null;
            }
        }

        private DatabaseUrl? Fail(int position, string reason) => Fail<DatabaseUrl>(position, reason);

        private T? Fail<T>(int position, string reason)
            where T : class
        {
            Error ??= new DatabaseUrlException(SecretMasker.MaskUrl(_text), position, reason);
            return null;
        }
    }
}

/// <summary>A database URL that could not be parsed. The message shows the URL with its password masked.</summary>
public sealed class DatabaseUrlException : FormatException
{
    public DatabaseUrlException(string maskedUrl, int position, string reason)
        : base($"Invalid database URL '{maskedUrl}' at position {position}: {reason}.")
    {
        Position = position;
        Reason = reason;
    }

    /// <summary>Zero-based index of the problem in the URL as written.</summary>
    public int Position { get; }

    /// <summary>What is wrong, without the URL.</summary>
    public string Reason { get; }
}
