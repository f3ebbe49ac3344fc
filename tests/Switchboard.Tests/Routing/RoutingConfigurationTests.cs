using System.Text;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Switchboard.Tests.Routing;

/// <summary>Replicas and routing options are validated with the rest of the configuration: every problem at once.</summary>
public sealed class RoutingConfigurationTests
{
    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    [Fact]
    public void Replicas_and_routing_are_read_from_configuration_with_credentials_inherited()
    {
        var config = Json("""
        { "Databases": { "orders": {
            "Url": "postgresql://app:Primary-Pass1@db1:5432/orders?application_name=shop",
            "Replicas": [ "db2:5433", "postgresql://reader:Reader-Pass2@db3/orders_ro", "Host=db4;Port=6432" ],
            "Routing": {
              "ReadPolicy": "leastoutstanding", "MaxReplicaLag": "2s", "FallbackToPrimary": false, "MonitorInterval": "250ms",
              "RecheckInterval": "25ms", "CheckTimeout": "1s", "OpenRetries": 1,
              "ReadYourWrites": { "Wait": "150ms" }, "CircuitBreaker": { "FailureThreshold": 4, "BreakDuration": "3s" } } } } }
        """);
        using var catalog = SwitchboardCatalog.FromConfiguration(config.GetSection("Databases"));
        var routing = catalog.GetDefinition("orders").Routing!;
        Assert.Equal(ReadPolicy.LeastOutstanding, routing.ReadPolicy);
        Assert.Equal(TimeSpan.FromSeconds(2), routing.MaxReplicaLag);
        Assert.False(routing.FallbackToPrimary);
        Assert.Equal(TimeSpan.FromMilliseconds(250), routing.MonitorInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(25), routing.RecheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), routing.CheckTimeout);
        Assert.Equal(1, routing.OpenRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(150), routing.ReadYourWritesWait);
        Assert.Equal(4, routing.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(3), routing.BreakDuration);

        Assert.Equal(["db1:5432/orders", "db2:5433/orders", "db3:5432/orders_ro", "db4:6432/orders"], routing.Hosts.Select(h => h.Target));
        Assert.Equal([HostRole.Unknown, HostRole.Replica, HostRole.Replica, HostRole.Replica], routing.Hosts.Select(h => h.ConfiguredRole));
        var hosts = routing.Hosts.Select(h => new NpgsqlConnectionStringBuilder(h.Connection.ConnectionString)).ToList();
        Assert.Equal(["db1", "db2", "db3", "db4"], hosts.Select(h => h.Host));
        Assert.Equal(["app", "app", "reader", "app"], hosts.Select(h => h.Username));
        Assert.Equal(["Primary-Pass1", "Primary-Pass1", "Reader-Pass2", "Primary-Pass1"], hosts.Select(h => h.Password));
        Assert.All(hosts, h => Assert.Equal("shop", h.ApplicationName));

        // Both passwords are secrets of the database: scrubbed from anything shown.
        var secrets = catalog.GetDefinition("orders").Routing!.Hosts.SelectMany(h => h.Connection.Secrets).Distinct().ToList();
        Assert.Equal(["Primary-Pass1", "Reader-Pass2"], secrets);
        Assert.DoesNotContain("Pass", catalog.GetDefinition("orders").ToString());
    }

    [Fact]
    public void A_multi_host_url_is_routed_and_a_single_host_is_left_alone()
    {
        using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase("multi", "postgresql://app:pw@h1:5432,h2:5433/shop")
            .AddDatabase("single", "postgresql://app:pw@h1/shop")
            .AddDatabase("monitored", "postgresql://app:pw@h1/shop", o => o.Routing.MonitorInterval = TimeSpan.FromSeconds(2))
            .AddDatabase("mysql", "mariadb://app:pw@m1:3306,m2/shop", o => o.Replicas = ["mariadb://m3:3307"])
            .Build();
        Assert.Equal(["h1:5432/shop", "h2:5433/shop"], catalog.GetDefinition("multi").Routing!.Hosts.Select(h => h.Target));
        Assert.All(catalog.GetDefinition("multi").Routing!.Hosts, h => Assert.Equal(HostRole.Unknown, h.ConfiguredRole));
        Assert.Null(catalog.GetDefinition("single").Routing);
        Assert.False(catalog.GetEngine("single").IsReplicated);
        Assert.Empty(catalog.GetEngine("single").GetHostStatuses());
        Assert.Single(catalog.GetDefinition("monitored").Routing!.Hosts);
        Assert.Equal(["m1:3306/shop", "m2:3306/shop", "m3:3307/shop"], catalog.GetDefinition("mysql").Routing!.Hosts.Select(h => h.Target));
    }

    [Fact]
    public void Every_routing_problem_is_reported_with_its_key_and_no_password()
    {
        var config = Json("""
        { "Databases": {
            "orders": { "Url": "postgresql://app:Secr3t-Pass@db1/orders",
              "Replicas": [ "", "mysql://db2/orders", "postgresql://db3:99999/orders", "postgresql://${MISSING_HOST}/orders", "db1:5432" ],
              "Routing": { "ReadPolicy": "RoundRobbin", "MaxReplicaLag": "-1s", "MonitorInterval": "5ms", "RecheckInterval": "2s",
                           "OpenRetries": 11, "CheckTimeout": "10ms", "ReadYourWrites": { "Wait": "2m", "Wiat": "1s" },
                           "CircuitBreaker": { "FailureThreshold": 1, "BreakDuration": "100ms" }, "MaxReplicaLagg": "1s" } },
            "files": { "Url": "sqlite:///files.db", "Replicas": [ "sqlite:///copy.db" ] },
            "fine": { "Url": "postgresql://app@db9/fine", "Replicas": [ "db10" ] } } }
        """);
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.FromConfiguration(config.GetSection("Databases")));
        var problems = error.Problems.Where(p => p.Database == "orders").Select(p => p.Key).ToList();
        Assert.Contains("Routing:ReadPolicy", problems);
        Assert.Contains("Routing:MaxReplicaLag", problems);
        Assert.Contains("Routing:MonitorInterval", problems);
        Assert.Contains("Routing:OpenRetries", problems);
        Assert.Contains("Routing:CheckTimeout", problems);
        Assert.Contains("Routing:ReadYourWrites:Wait", problems);
        Assert.Contains("Routing:ReadYourWrites:Wiat", problems);
        Assert.Contains("Routing:CircuitBreaker:FailureThreshold", problems);
        Assert.Contains("Routing:CircuitBreaker:BreakDuration", problems);
        Assert.Contains("Routing:MaxReplicaLagg", problems);
        Assert.Contains(error.Problems, p => p.Database == "files" && p.Key == "Replicas" && p.Message.Contains("sqlite"));
        Assert.DoesNotContain(error.Problems, p => p.Database == "fine");

        string Message(string key) => error.Problems.First(p => p.Database == "orders" && p.Key == key).Message;
        Assert.Contains("did you mean 'RoundRobin'", Message("Routing:ReadPolicy"));
        Assert.Contains("did you mean 'MaxReplicaLag'", Message("Routing:MaxReplicaLagg"));
        Assert.Contains("did you mean 'Wait'", Message("Routing:ReadYourWrites:Wiat"));
        Assert.Contains("at least 2", Message("Routing:CircuitBreaker:FailureThreshold"));
        Assert.DoesNotContain("Secr3t-Pass", error.ToString());
    }

    [Fact]
    public void Replica_entries_are_checked_once_the_database_itself_is_valid()
    {
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(_ => null)
            .AddDatabase("orders", "postgresql://app:Secr3t-Pass@db1/orders",
                o => o.Replicas = ["", "mysql://db2/orders", "postgresql://db3:99999/orders", "postgresql://${MISSING_HOST}/orders", "db1:5432"])
            .Build());
        var byKey = error.Problems.ToDictionary(p => p.Key, p => p.Message);
        Assert.Contains("empty", byKey["Replicas:0"]);
        Assert.Contains("own kind (postgresql)", byKey["Replicas:1"]);
        Assert.Contains("port is out of range", byKey["Replicas:2"]);
        Assert.Contains("MISSING_HOST", byKey["Replicas:3"]);
        Assert.Contains("listed 2 times", byKey["Replicas"]);
        Assert.DoesNotContain("Secr3t-Pass", error.ToString());
    }

    [Fact]
    public void Replica_entries_are_checked_even_when_the_database_has_problems_of_its_own()
    {
        // Every problem at once: a bad pool size or primary URL must not hide the replicas' own problems.
        var error = Assert.Throws<CatalogConfigurationException>(() => SwitchboardCatalog.CreateBuilder()
            .UseEnvironment(_ => null)
            .AddDatabase("orders", "postgresql://app:Secr3t-Pass@db1/orders",
                o => { o.Pool.MaxSize = 0; o.Replicas = ["mysql://db2/orders", "postgresql://${MISSING_HOST}/orders", "postgresql://db3:99999/orders"]; })
            .AddDatabase("billing", "postgresql://app:Secr3t-Pass@db1/billing", o => { o.Options["sslmode"] = "bananas"; o.Replicas = ["mysql://db2/billing"]; })
            .Build());
        var byKey = error.Problems.ToDictionary(p => p.Database + "|" + p.Key, p => p.Message);
        Assert.Contains("must be at least 1", byKey["orders|Pool:MaxSize"]);
        Assert.Contains("own kind (postgresql)", byKey["orders|Replicas:0"]);
        Assert.Contains("MISSING_HOST", byKey["orders|Replicas:1"]);
        Assert.Contains("port is out of range", byKey["orders|Replicas:2"]);
        Assert.Contains("own kind (postgresql)", byKey["billing|Replicas:0"]); // beside the driver's refusal of the primary's settings
        Assert.DoesNotContain("Secr3t-Pass", error.ToString());
    }

    [Fact]
    public void Consistency_tokens_round_trip_as_url_safe_text()
    {
        var token = ConsistencyToken.Parse("orders=0%2F3000060&shop=0-1-57%2C1-2-3&empty=");
        Assert.Equal("0/3000060", token.Positions["orders"]);
        Assert.Equal("0-1-57,1-2-3", token.Positions["SHOP"]);
        Assert.Equal("", token.Positions["empty"]);
        var text = token.ToString();
        Assert.DoesNotContain(",", text);
        Assert.DoesNotContain(";", text);
        Assert.Equal(token, ConsistencyToken.Parse(text));
        Assert.False(ConsistencyToken.TryParse("orders", out _));
        Assert.False(ConsistencyToken.TryParse("a=1&a=2", out _));
        Assert.Throws<FormatException>(() => ConsistencyToken.Parse("=x"));
        Assert.Equal("", ConsistencyToken.Empty.ToString());
    }
}
