using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.MySql;

[Collection(ServersCollection.Name)]
public sealed class MySqlDapperTests(DatabaseServers servers) : DapperContractTests
{
    protected override async Task<string> NewDatabaseUrlAsync() => servers.MyUrl(await servers.CreateMyDatabaseAsync("dapper"));
}
