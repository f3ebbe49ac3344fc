using System.Text;
using Microsoft.Extensions.Configuration;

namespace Switchboard.Tests.Catalog;

/// <summary>Configuration is validated when the catalog is built: every problem at once, each naming its database.</summary>
public sealed class CatalogConfigurationTests
{
    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_database_and_key()
    {
        var config = Json("""
        {
          "Databases": {
            "orders":  { "Url": "postgresql://app:Secr3tPass@db1:99999/orders" },
            "legacy":  { "Provider": "mysql" },
            "audit":   { "Url": "sqlite:///audit.db", "Pool": { "MaxSize": 0, "MinIdle": -1 } },
            "typo":    { "Urll": "sqlite:///x.db" },
            "unknown": { "Url": "postgress://u@h/db" },
            "timeout": { "Url": "sqlite:///t.db", "CommandTimeout": "soon" },
            "good":    { "Url": "sqlite:///good.db" }
          }
        }
        """);
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.FromConfiguration(config.GetSection("Databases")));
        var problems = error.Problems.Select(p => (p.Database, p.Key)).ToList();
        Assert.Contains(("orders", "Url"), problems);
        Assert.Contains(("legacy", "Url"), problems); // neither Url nor ConnectionString
        Assert.Contains(("audit", "Pool:MaxSize"), problems);
        Assert.Contains(("audit", "Pool:MinIdle"), problems);
        Assert.Contains(("typo", "Urll"), problems);
        Assert.Contains(("unknown", "Url"), problems);
        Assert.Contains(("timeout", "CommandTimeout"), problems);
        Assert.DoesNotContain(error.Problems, p => p.Database == "good");

        Assert.Contains("position", error.Problems.First(p => p.Database == "orders").Message);
        Assert.Contains("did you mean 'Url'", error.Problems.First(p => p.Database == "typo").Message);
        Assert.Contains("did you mean 'postgres'", error.Problems.First(p => p.Database == "unknown").Message);
        Assert.DoesNotContain("Secr3tPass", error.Message);
        Assert.DoesNotContain("Secr3tPass", error.ToString());
        Assert.Contains("orders: Url:", error.Message);
    }

    [Fact]
    public void Environment_references_fill_passwords_with_any_characters()
    {
        var catalog = SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(name => name == "ORDERS_PASSWORD" ? "p@ss:w/rd%?&" : null)
            .AddDatabase("orders", "postgresql://app:${ORDERS_PASSWORD}@db1/orders")
            .Build();
        var definition = catalog.GetDefinition("orders");
        Assert.Contains("p@ss:w/rd%?&", definition.Connection.Secrets);
        Assert.DoesNotContain("p@ss", definition.ToString());
        Assert.Equal("db1:5432/orders", definition.Target);
    }

    [Fact]
    public void An_environment_value_in_a_connection_string_stays_one_value_whatever_it_holds()
    {
        // ';', '=' and quotes would split an unquoted value into keys of its own (whose text a driver then echoes).
        const string Password = "Secret1;Secret2=zz\"q'";
        var definition = SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(name => name == "W" ? Password : null)
            .AddDatabase("pg", "postgresql", "Host=db1;Username=app;Password=${W};Database=orders")
            .AddDatabase("my", new DatabaseOptions { Provider = "mysql", ConnectionString = "Server=db2;User ID=app;Password = ${W} ;Database=shop" })
            .Build()
            .GetDefinition("pg");
        Assert.Contains(Password, definition.Connection.Secrets);
        Assert.Equal("db1:5432/orders", definition.Target);
        Assert.DoesNotContain("secret2", definition.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_missing_environment_variable_is_named_but_never_guessed()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(_ => null)
            .AddDatabase("orders", "postgresql://app:${ORDERS_PASSWORD}@db1/orders")
            .AddDatabase("billing", new DatabaseOptions { Provider = "postgresql", ConnectionString = "Host=h", PasswordEnvironmentVariable = "BILLING_PW" })
            .Build());
        Assert.Contains(error.Problems, p => p.Database == "orders" && p.Message.Contains("ORDERS_PASSWORD"));
        Assert.Contains(error.Problems, p => p.Database == "billing" && p.Key == "PasswordEnvironmentVariable" && p.Message.Contains("BILLING_PW"));
    }

    [Fact]
    public void Environment_variables_override_the_json_file()
    {
        const string Prefix = "SB_TEST_OVERRIDE_";
        Environment.SetEnvironmentVariable(Prefix + "Databases__orders__Url", "sqlite:///from-env.db");
        Environment.SetEnvironmentVariable(Prefix + "Databases__orders__Pool__MaxSize", "7");
        try
        {
            var config = new ConfigurationBuilder()
                .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "Databases": { "orders": { "Url": "sqlite:///from-file.db" } } }""")))
                .AddEnvironmentVariables(Prefix)
                .Build();
            using var catalog = SwitchboardCatalog.FromConfiguration(config.GetSection("Databases"));
            var definition = catalog.GetDefinition("orders");
            Assert.EndsWith("from-env.db", definition.Target);
            Assert.Equal(7, definition.Pool.MaxSize);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Prefix + "Databases__orders__Url", null);
            Environment.SetEnvironmentVariable(Prefix + "Databases__orders__Pool__MaxSize", null);
        }
    }

    [Fact]
    public void Pool_options_and_durations_are_read_in_every_usual_form()
    {
        var config = Json("""
        { "Databases": { "orders": {
            "Url": "postgresql://app@db1:5433,db2/orders?sslmode=disable",
            "CommandTimeout": "45s", "ConnectTimeout": 5,
            "Pool": { "MaxSize": 50, "MinIdle": 2, "ConnectionLifetime": "00:10:00", "CheckoutTimeout": "1500ms", "PrePing": true },
            "Options": { "Application Name": "shop" } } } }
        """);
        using var catalog = SwitchboardCatalog.FromConfiguration(config.GetSection("Databases"));
        var d = catalog.GetDefinition("ORDERS"); // names are case-insensitive
        Assert.Equal(new PoolSettings(50, 2, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(1500), true), d.Pool);
        Assert.Equal(TimeSpan.FromSeconds(45), d.CommandTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), d.ConnectTimeout);
        Assert.Equal([new DatabaseHost("db1", 5433), new DatabaseHost("db2", 5432)], d.Connection.Hosts);
        Assert.Contains("Application Name=shop", d.Connection.ConnectionString);
        Assert.Contains("SSL Mode=Disable", d.Connection.ConnectionString);
        Assert.Contains("Maximum Pool Size=50", d.Connection.ConnectionString);
    }

    [Fact]
    public void A_string_value_is_shorthand_for_a_url()
    {
        using var catalog = SwitchboardCatalog.FromConfiguration(Json("""{ "cache": "sqlite://:memory:" }"""));
        Assert.Equal("sqlite", catalog.GetDefinition("cache").Dialect.Name);
    }

    [Fact]
    public void Unknown_provider_options_are_rejected_by_the_dialect_without_echoing_secrets()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", "postgresql://app:Hunter2Pass@db1/orders?frobnicate=yes").Build());
        var problem = Assert.Single(error.Problems);
        Assert.Equal("orders", problem.Database);
        Assert.Contains("frobnicate", problem.Message);
        Assert.DoesNotContain("Hunter2Pass", error.ToString());
    }

    [Fact]
    public void A_plain_value_that_is_not_a_url_says_what_an_entry_looks_like()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.FromConfiguration(
            Json("""{ "a": "sqlite://:memory:", "b": 5, "c": { "Url": "sqlite://:memory:", "Pool": 5 } }""")));
        Assert.Equal(2, error.Problems.Count);
        Assert.Contains("is not an object", Assert.Single(error.Problems, p => p.Database == "c" && p.Key == "Pool").Message);
        var problem = Assert.Single(error.Problems, p => p.Database == "b");
        Assert.Equal(("b", "(value)"), (problem.Database, problem.Key));
        Assert.Contains("a URL", problem.Message);
        Assert.Contains("Url or ConnectionString", problem.Message);
    }

    [Fact]
    public void A_driver_option_the_driver_refuses_is_named_with_its_value_and_the_valid_ssl_modes_are_listed()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("pg", "postgresql://app:Hunter2Pass@db1/orders?sslmode=bogus")
            .AddDatabase("my", "mysql://app:Hunter2Pass@db1/shop?ssl_mode=sometimes")
            .AddDatabase("pgcs", new DatabaseOptions { Provider = "postgresql", ConnectionString = "Host=db1;Password=Hunter2Pass;SSL Mode=bogus" })
            .AddDatabase("pool", "postgresql://app:Hunter2Pass@db1/orders?Pooling=maybe")
            .AddDatabase("mypool", new DatabaseOptions { Provider = "mysql", ConnectionString = "Server=db1;Password=Hunter2Pass;Port=abc" })
            .AddDatabase("opts", new DatabaseOptions { Url = "postgresql://app@db1/orders", Options = { ["Bogus"] = "1" } })
            .Build());
        Assert.Equal("Options:Bogus", Assert.Single(error.Problems, p => p.Database == "opts").Key);
        string Message(string database) => Assert.Single(error.Problems, p => p.Database == database).Message;
        Assert.Contains("sslmode 'bogus' is not one of disable, allow, prefer, require, verify-ca, verify-full", Message("pg"));
        Assert.Contains("ssl_mode 'sometimes' is not one of disable, prefer, require", Message("my"));
        Assert.Contains("'bogus' is not one of disable", Message("pgcs"));
        Assert.Contains("option 'Pooling' = 'maybe' was refused", Message("pool"));
        Assert.Contains("option 'port' = 'abc' was refused", Message("mypool"));
        Assert.DoesNotContain("Hunter2Pass", error.ToString());
    }

    [Fact]
    public void A_bad_name_does_not_hide_the_entry_s_other_problems_nor_does_a_missing_variable_add_a_parse_error()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(_ => null)
            .AddDatabase("bad name!", "postgresqlx://app@db1/orders")
            .AddDatabase("env", "${ORDERS_URL}")
            .Build());
        Assert.Contains(error.Problems, p => p.Database == "bad name!" && p.Key == "(name)");
        Assert.Contains(error.Problems, p => p.Database == "bad name!" && p.Key == "Url" && p.Message.Contains("did you mean 'postgresql'"));
        var missing = Assert.Single(error.Problems, p => p.Database == "env");
        Assert.Contains("ORDERS_URL", missing.Message);
    }

    [Fact]
    public void Url_and_connection_string_together_or_provider_mismatch_are_errors()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("both", new DatabaseOptions { Url = "sqlite:///a.db", ConnectionString = "Data Source=a.db", Provider = "sqlite" })
            .AddDatabase("mismatch", new DatabaseOptions { Url = "sqlite:///a.db", Provider = "postgresql" })
            .AddDatabase("noprovider", new DatabaseOptions { ConnectionString = "Host=h" })
            .AddDatabase("bad name!", "sqlite:///a.db")
            .AddDatabase("dup", "sqlite:///a.db")
            .AddDatabase("DUP", "sqlite:///b.db")
            .Build());
        Assert.Contains(error.Problems, p => p.Database == "both" && p.Message.Contains("not both"));
        Assert.Contains(error.Problems, p => p.Database == "mismatch" && p.Key == "Provider");
        Assert.Contains(error.Problems, p => p.Database == "noprovider" && p.Key == "Provider");
        Assert.Contains(error.Problems, p => p.Database == "bad name!");
        Assert.Contains(error.Problems, p => p.Database == "DUP" && p.Message.Contains("twice"));
    }

    [Fact]
    public void A_mysql_url_with_different_ports_per_host_is_explained()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .AddDatabase("legacy", "mysql://u:p@h1:3306,h2:3307/shop").Build());
        Assert.Contains("one port", Assert.Single(error.Problems).Message);
    }

    [Fact]
    public void An_unknown_name_lists_the_configured_ones_and_suggests_the_closest()
    {
        using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("orders", "sqlite://:memory:").AddDatabase("audit", "sqlite://:memory:").AddDatabase("legacy", "sqlite://:memory:")
            .Build();
        var error = Assert.Throws<UnknownDatabaseException>(() => catalog.OpenSession("ordres"));
        Assert.Equal("No database named 'ordres' (did you mean 'orders'?). Configured: audit, legacy, orders.", error.Message);
        Assert.Equal(["audit", "legacy", "orders"], error.ConfiguredNames);
        Assert.Throws<UnknownDatabaseException>(() => catalog.GetEngine("zzz"));
    }

    [Fact]
    public void A_built_builder_refuses_changes_and_later_option_edits_do_not_reach_the_catalog()
    {
        var options = new DatabaseOptions { Url = "sqlite://:memory:" };
        options.Pool.MaxSize = 3;
        var builder = SwitchboardCatalog.CreateBuilder().AddDatabase("a", options);
        using var catalog = builder.Build();
        options.Pool.MaxSize = 99;
        Assert.Equal(3, catalog.GetDefinition("a").Pool.MaxSize);
        Assert.Throws<InvalidOperationException>(() => builder.AddDatabase("b", "sqlite://:memory:"));
    }

    [Fact]
    public async Task A_disposed_catalog_refuses_new_sessions()
    {
        var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase("a", "sqlite://:memory:").Build();
        await catalog.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => catalog.OpenSession("a"));
    }
}
