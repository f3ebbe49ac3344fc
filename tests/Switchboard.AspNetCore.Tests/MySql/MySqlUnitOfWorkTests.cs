using Switchboard.AspNetCore.Tests.Contracts;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.MySql;

[Collection(ServersCollection.Name)]
public sealed class MySqlUnitOfWorkTests(DatabaseServers servers) : UnitOfWorkContractTests
{
    protected override async Task<string> NewDatabaseUrlAsync() => servers.MyUrl(await servers.CreateMyDatabaseAsync("uow"));
}
