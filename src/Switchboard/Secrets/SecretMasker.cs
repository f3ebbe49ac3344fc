using System.Data.Common;
using System.Text;

namespace Switchboard;

/// <summary>
/// Removes passwords from text that may reach a user: URLs, connection strings and driver messages.
/// Masking errs on the side of hiding too much; a malformed URL is masked without being parsed.
/// </summary>
public static class SecretMasker
{
    /// <summary>What a hidden secret is replaced with.</summary>
    public const string Mask = "****";

    private static readonly string[] SecretKeys =
    [
        "password", "pwd", "pass", "passwd", "secret", "token", "sslpassword", "ssl password", "sslkeypassword",
    ];

    /// <summary>Whether a connection-string or query key names a secret.</summary>
    public static bool IsSecretKey(string key)
    {
        var k = key.Trim();
        foreach (var s in SecretKeys)
        {
            if (string.Equals(k, s, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return k.Contains("password", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Masks the password of a database URL, whether or not the URL is well formed: everything between the
    /// first ':' of the user-info and the last '@' is hidden, and secret query parameters are hidden too.
    /// </summary>
    public static string MaskUrl(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return url ?? string.Empty;
        }

        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            // Not even scheme://: we cannot tell where a password might be, so show nothing of it.
            var colon = url.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && colon < 32 && !url.Contains('@', StringComparison.Ordinal)
                ? url
                : "<unreadable URL>";
        }

        var sb = new StringBuilder(url.Length);
        var authorityStart = schemeEnd + 3;
        var at = url.LastIndexOf('@');
        int rest;
        if (at >= authorityStart)
        {
            var userInfo = url.AsSpan(authorityStart, at - authorityStart);
            var colon = userInfo.IndexOf(':');
            sb.Append(url, 0, authorityStart);
            if (colon >= 0)
            {
                sb.Append(userInfo[..colon]).Append(':').Append(Mask);
            }
            else
            {
                sb.Append(userInfo);
            }

            sb.Append('@');
            rest = at + 1;
        }
        else
        {
            // No '@': a forgotten one would leave "user:password" looking like "host:port", so any
            // non-numeric "port" is masked.
            sb.Append(url, 0, authorityStart);
            var authorityEnd = url.IndexOfAny(['/', '?'], authorityStart);
            if (authorityEnd < 0)
            {
                authorityEnd = url.Length;
            }

            var hosts = url[authorityStart..authorityEnd].Split(',');
            for (var i = 0; i < hosts.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }

                var h = hosts[i];
                var bracket = h.LastIndexOf(']');
                var colon = h.IndexOf(':', bracket + 1);
                sb.Append(colon < 0 || !h.AsSpan(colon + 1).ContainsAnyExceptInRange('0', '9') ? h : h[..(colon + 1)] + Mask);
            }

            rest = authorityEnd;
        }

        var query = url.IndexOf('?', rest);
        if (query < 0)
        {
            sb.Append(url, rest, url.Length - rest);
            return sb.ToString();
        }

        sb.Append(url, rest, query + 1 - rest);
        var parts = url[(query + 1)..].Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                sb.Append('&');
            }

            var eq = parts[i].IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? parts[i] : parts[i][..eq];
            sb.Append(eq >= 0 && IsSecretKey(Uri.UnescapeDataString(key)) ? key + "=" + Mask : parts[i]);
        }

        return sb.ToString();
    }

    /// <summary>Masks every secret value in an ADO.NET connection string; an unparseable one is hidden whole.</summary>
    public static string MaskConnectionString(string? connectionString)
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            return connectionString ?? string.Empty;
        }

        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            foreach (var key in builder.Keys.Cast<string>().ToArray())
            {
                if (IsSecretKey(key))
                {
                    builder[key] = Mask;
                }
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "<unreadable connection string>";
        }
    }

    /// <summary>Replaces every occurrence of the given secret values in <paramref name="text"/>.</summary>
    public static string Scrub(string text, IReadOnlyList<string>? secrets)
    {
        if (secrets is null || secrets.Count == 0 || string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var secret in secrets)
        {
            // Very short secrets would mangle ordinary words; they are still never written by Switchboard itself.
            if (secret.Length >= 3)
            {
                // Ignoring case: drivers echo connection-string keys and values lower-cased.
                text = text.Replace(secret, Mask, StringComparison.OrdinalIgnoreCase);
                var encoded = Uri.EscapeDataString(secret);
                if (encoded != secret)
                {
                    text = text.Replace(encoded, Mask, StringComparison.OrdinalIgnoreCase);
                }
            }
        }

        return text;
    }
}
